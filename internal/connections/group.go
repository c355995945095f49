package connections

import (
	"regexp"
	"time"
)

// ExternalGroup is an externalGroup: a group of the source system that
// item ACLs can name before or after it exists.
type ExternalGroup struct {
	ID          string
	DisplayName string
	Description string
	Version     int64
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// GroupPatch is a PATCH of a group; nil fields are left alone.
type GroupPatch struct {
	DisplayName *string
	Description *string
}

// Member is an identity in an external group.
type Member struct {
	ID             string
	Type           string
	IdentitySource string
}

// Group limits.
const (
	MaxGroupIDLen       = 128
	MaxGroupDisplayName = 256
	MaxGroupDescription = 4096
)

// Graph documents group ids as alphanumeric up to 128, and an older note
// allows the URL- and filename-safe base64 alphabet: both fit here.
var groupIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)

// Validate checks a group as created.
func (g ExternalGroup) Validate() error {
	if !groupIDPattern.MatchString(g.ID) {
		return invalidField("id", "must be 1 to %d characters: letters, digits, '.', '_' or '-'", MaxGroupIDLen)
	}
	if err := checkLen("displayName", g.DisplayName, MaxGroupDisplayName); err != nil {
		return err
	}
	return checkLen("description", g.Description, MaxGroupDescription)
}

// validate checks a member and normalises its type.
func (m *Member) validate() error {
	if !groupIDPattern.MatchString(m.ID) {
		return invalidField("id", "must be 1 to %d characters: letters, digits, '.', '_' or '-'", MaxGroupIDLen)
	}
	var ok bool
	if m.Type, ok = oneOf(identityTypes, m.Type); !ok {
		return invalidField("type", "must be user, group or externalGroup")
	}
	if m.IdentitySource != "" {
		if m.IdentitySource, ok = oneOf(identitySources, m.IdentitySource); !ok {
			return invalidField("identitySource", "must be azureActiveDirectory or external")
		}
	}
	return nil
}
