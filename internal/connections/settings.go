package connections

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
)

// ActivitySettings are a connection's activitySettings: how a shared URL
// resolves to one of its items.
type ActivitySettings struct {
	URLToItemResolvers []ItemIDResolver
}

// ItemIDResolver is an externalConnectors.itemIdResolver.
type ItemIDResolver struct {
	BaseURLs   []string
	URLPattern string
	ItemID     string
	Priority   int64
}

// SearchSettings are a connection's searchSettings: how its items show in
// search results.
type SearchSettings struct {
	SearchResultTemplates []DisplayTemplate
}

// DisplayTemplate is an externalConnectors.displayTemplate. Layout is the
// Adaptive Card as JSON text, kept as sent.
type DisplayTemplate struct {
	ID       string
	Priority int64
	Layout   []byte
	Rules    []PropertyRule
}

// PropertyRule is an externalConnectors.propertyRule.
type PropertyRule struct {
	Property       string
	Operation      string
	ValuesJoinedBy string
	Values         []string
}

// Limits of the settings. Graph documents the two-template cap, the
// template id rule and positive priorities; the other caps are connops's
// own, far above what connectors send, to keep one connection row bounded.
const (
	MaxSearchResultTemplates = 2
	MaxTemplateLayoutBytes   = 64 << 10
	MaxTemplateRules         = 16
	MaxRuleValues            = 32
	MaxItemResolvers         = 8
	MaxResolverBaseURLs      = 16
	MaxURLLen                = 2048
	MaxResolverPatternLen    = 1024
	MaxConnectorIDLen        = 128
)

var templateIDPattern = regexp.MustCompile(`^[A-Za-z0-9]{1,16}$`)

var ruleOperations = []string{"null", "equals", "notEquals", "contains", "notContains", "lessThan", "greaterThan", "startsWith"}

// Validate checks activity settings.
func (a ActivitySettings) Validate() error {
	const path = "activitySettings.urlToItemResolvers"
	if len(a.URLToItemResolvers) > MaxItemResolvers {
		return invalidField(path, "has more than %d entries", MaxItemResolvers)
	}
	for i, r := range a.URLToItemResolvers {
		p := fmt.Sprintf("%s[%d]", path, i)
		if r.Priority < 1 || r.Priority > 1<<31-1 {
			return invalidField(p+".priority", "must be a positive 32-bit integer")
		}
		if len(r.BaseURLs) == 0 || len(r.BaseURLs) > MaxResolverBaseURLs {
			return invalidField(p+".urlMatchInfo.baseUrls", "must hold 1 to %d URLs", MaxResolverBaseURLs)
		}
		for j, b := range r.BaseURLs {
			bp := fmt.Sprintf("%s.urlMatchInfo.baseUrls[%d]", p, j)
			if err := checkLen(bp, b, MaxURLLen); err != nil {
				return err
			}
			if u, err := url.Parse(b); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				return invalidField(bp, "must be an absolute http or https URL")
			}
		}
		if err := checkLen(p+".urlMatchInfo.urlPattern", r.URLPattern, MaxResolverPatternLen); err != nil {
			return err
		}
		if r.URLPattern == "" {
			return invalidField(p+".urlMatchInfo.urlPattern", "is required")
		}
		if err := checkLen(p+".itemId", r.ItemID, MaxURLLen); err != nil {
			return err
		}
		if r.ItemID == "" {
			return invalidField(p+".itemId", "is required")
		}
	}
	return nil
}

// Validate checks search settings.
func (s SearchSettings) Validate() error {
	const path = "searchSettings.searchResultTemplates"
	if len(s.SearchResultTemplates) > MaxSearchResultTemplates {
		return invalidField(path, "has more than %d entries; Graph allows %d templates per connection", MaxSearchResultTemplates, MaxSearchResultTemplates)
	}
	var ids []string
	for i, t := range s.SearchResultTemplates {
		p := fmt.Sprintf("%s[%d]", path, i)
		if !templateIDPattern.MatchString(t.ID) {
			return invalidField(p+".id", "must be 1 to 16 letters or digits")
		}
		if slices.Contains(ids, t.ID) {
			return invalidField(p+".id", "repeats the template id '%s'", t.ID)
		}
		ids = append(ids, t.ID)
		if t.Priority < 1 || t.Priority > 1<<31-1 {
			return invalidField(p+".priority", "must be a positive 32-bit integer")
		}
		if len(t.Layout) == 0 {
			return invalidField(p+".layout", "is required: an Adaptive Card as a JSON object")
		}
		if len(t.Layout) > MaxTemplateLayoutBytes {
			return invalidField(p+".layout", "is larger than %d bytes", MaxTemplateLayoutBytes)
		}
		if err := validateRules(p+".rules", t.Rules); err != nil {
			return err
		}
	}
	return nil
}

func validateRules(path string, rules []PropertyRule) error {
	if len(rules) > MaxTemplateRules {
		return invalidField(path, "has more than %d entries", MaxTemplateRules)
	}
	for i, r := range rules {
		p := fmt.Sprintf("%s[%d]", path, i)
		if err := checkLen(p+".property", r.Property, MaxPropertyNameLen); err != nil {
			return err
		}
		if r.Property == "" {
			return invalidField(p+".property", "is required")
		}
		if !slices.Contains(ruleOperations, r.Operation) {
			return invalidField(p+".operation", "must be one of null, equals, notEquals, contains, notContains, lessThan, greaterThan, startsWith")
		}
		if r.ValuesJoinedBy != "" && r.ValuesJoinedBy != "or" && r.ValuesJoinedBy != "and" {
			return invalidField(p+".valuesJoinedBy", "must be 'or' or 'and'")
		}
		if len(r.Values) > MaxRuleValues {
			return invalidField(p+".values", "has more than %d entries", MaxRuleValues)
		}
		for j, v := range r.Values {
			if err := checkLen(fmt.Sprintf("%s.values[%d]", p, j), v, 256); err != nil {
				return err
			}
		}
	}
	return nil
}
