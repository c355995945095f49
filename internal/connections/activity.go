package connections

import (
	"fmt"
	"time"
)

// Activity is an externalActivity: something a person did with an item.
type Activity struct {
	// ODataType is the annotation as sent; Graph fails an activity sent
	// without it.
	ODataType     string
	Type          string
	StartDateTime string
	PerformedBy   Identity
	// Start is StartDateTime parsed, set by validation.
	Start time.Time
}

// Identity is an externalConnectors.identity: a user, group or external
// group by id.
type Identity struct {
	ID             string
	Type           string
	IdentitySource string
}

// ActivityResult is one activity's outcome; Error is nil when it was
// recorded.
type ActivityResult struct {
	Activity Activity
	Error    *PublicError
}

// Activity limits: Graph takes at most 20 activities in one call.
const (
	MaxActivities     = 20
	typeActivity      = "microsoft.graph.externalConnectors.externalActivity"
	activityClockSkew = 5 * time.Minute
)

var (
	activityTypes = []string{"viewed", "modified", "created", "commented"}
	identityTypes = []string{"user", "group", "externalGroup"}
)

// check validates one activity; the error is worded for its result.
func (a *Activity) check(now time.Time) *PublicError {
	fail := func(format string, args ...any) *PublicError {
		return &PublicError{Code: "InvalidActivity", Message: fmt.Sprintf(format, args...)}
	}
	if a.ODataType != "#"+typeActivity && a.ODataType != typeActivity {
		return fail("The activity needs \"@odata.type\": \"#%s\".", typeActivity)
	}
	var ok bool
	if a.Type, ok = oneOf(activityTypes, a.Type); !ok {
		return fail("The activity type must be viewed, modified, created or commented.")
	}
	start, err := time.Parse(time.RFC3339Nano, a.StartDateTime)
	if err != nil {
		return fail("startDateTime must be an ISO 8601 date and time with a time zone.")
	}
	if start.After(now.Add(activityClockSkew)) {
		return fail("startDateTime lies in the future.")
	}
	a.Start = start
	if a.PerformedBy.Type, ok = oneOf(identityTypes, a.PerformedBy.Type); !ok {
		return fail("performedBy.type must be user, group or externalGroup.")
	}
	if a.PerformedBy.ID == "" || len(a.PerformedBy.ID) > MaxACLValueLen || checkText("performedBy.id", a.PerformedBy.ID) != nil {
		return fail("performedBy.id must be 1 to %d characters.", MaxACLValueLen)
	}
	return nil
}

// checkActivities checks each activity; ok holds those that passed.
func checkActivities(activities []Activity, now time.Time) (results []ActivityResult, ok []Activity) {
	results = make([]ActivityResult, len(activities))
	for i := range activities {
		a := activities[i]
		results[i] = ActivityResult{Activity: a, Error: a.check(now)}
		results[i].Activity = a
		if results[i].Error == nil {
			ok = append(ok, a)
		}
	}
	return results, ok
}
