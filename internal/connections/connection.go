package connections

import (
	"regexp"
	"strings"
	"time"
)

// State is a connectionState member. Connections start as draft and become
// ready when their first schema registration completes.
type State string

// The members of connectionState.
const (
	StateDraft         State = "draft"
	StateReady         State = "ready"
	StateObsolete      State = "obsolete"
	StateLimitExceeded State = "limitExceeded"
)

// Connection is an externalConnection, the parent of operations.
type Connection struct {
	ID               string
	Name             string
	Description      string
	State            State
	AuthorizedAppIDs []string
	CreatedByApp     string
	// ConnectorID is the Teams app id of the connector, as sent on create.
	ConnectorID      string
	ActivitySettings *ActivitySettings
	SearchSettings   *SearchSettings
	Version          int64
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// NewConnection is what a caller may set when creating a connection.
type NewConnection struct {
	ID               string
	Name             string
	Description      string
	AuthorizedAppIDs []string
	ConnectorID      string
	ActivitySettings *ActivitySettings
	SearchSettings   *SearchSettings
}

var connectionIDPattern = regexp.MustCompile(`^[A-Za-z0-9]{3,32}$`)

// reservedConnectionIDs are names Graph refuses as connection ids. Graph does
// not say whether the check ignores case; refusing every casing is the safe side.
var reservedConnectionIDs = []string{
	"None", "Directory", "Exchange", "ExchangeArchive", "LinkedIn", "Mailbox",
	"OneDriveBusiness", "SharePoint", "Teams", "Yammer", "Connectors", "TaskFabric",
	"PowerBI", "Assistant", "TopicEngine", "MSFT_All_Connectors", "MicrosoftSearch",
}

// ValidateConnectionID applies Graph's rules for connection ids.
func ValidateConnectionID(id string) error {
	if !connectionIDPattern.MatchString(id) {
		return invalidField("id", "must be 3 to 32 letters or digits")
	}
	if strings.HasPrefix(strings.ToLower(id), "microsoft") {
		return invalidField("id", "must not start with 'Microsoft'")
	}
	for _, r := range reservedConnectionIDs {
		if strings.EqualFold(id, r) {
			return invalidField("id", "must not be the reserved name '%s'", r)
		}
	}
	return nil
}

// Validate checks the caller's values for a new connection.
func (n NewConnection) Validate() error {
	if n.ID == "" {
		return invalidField("id", "is required")
	}
	if err := ValidateConnectionID(n.ID); err != nil {
		return err
	}
	if err := checkLen("name", n.Name, MaxConnectionName); err != nil {
		return err
	}
	if strings.TrimSpace(n.Name) == "" {
		return invalidField("name", "is required")
	}
	if err := checkLen("description", n.Description, MaxConnectionDesc); err != nil {
		return err
	}
	const apps = "configuration.authorizedAppIds"
	if len(n.AuthorizedAppIDs) > MaxAuthorizedAppIDs {
		return invalidField(apps, "has more than %d entries", MaxAuthorizedAppIDs)
	}
	for _, app := range n.AuthorizedAppIDs {
		if err := checkText(apps, app); err != nil {
			return err
		}
		if app == "" || len(app) > MaxAppIDLen {
			return invalidField(apps, "has an entry that is not 1 to %d characters", MaxAppIDLen)
		}
	}
	if err := checkLen("connectorId", n.ConnectorID, MaxConnectorIDLen); err != nil {
		return err
	}
	if n.ActivitySettings != nil {
		if err := n.ActivitySettings.Validate(); err != nil {
			return err
		}
	}
	if n.SearchSettings != nil {
		return n.SearchSettings.Validate()
	}
	return nil
}
