// Package odata parses the OData system query options connops supports
// ($filter, $orderby, $select, $top, $skip, $skiptoken, $count) into values
// the domain then validates. It checks syntax only: which properties may be
// filtered, sorted or selected, and the ranges of $top and $skip, are the
// domain's rules. It knows nothing of HTTP frameworks.
package odata

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/connops/connops/internal/connections"
)

// Error is a query option that cannot be parsed or is not accepted here.
// Option names it ("$filter"; empty for the query string as a whole); the
// HTTP layer answers it with 400.
type Error struct {
	Option  string
	Message string
}

func (e *Error) Error() string { return e.Message }

// Unwrap makes every *Error match connections.ErrInvalid, so it lands in the
// same row of the error table as the domain's own validation errors.
func (e *Error) Unwrap() error { return connections.ErrInvalid }

func fail(option, format string, args ...any) *Error {
	return &Error{Option: option, Message: fmt.Sprintf(format, args...)}
}

// The system query options, by their canonical names.
const (
	Top       = "$top"
	Skip      = "$skip"
	Count     = "$count"
	Filter    = "$filter"
	OrderBy   = "$orderby"
	Select    = "$select"
	SkipToken = "$skiptoken"
)

var systemOptions = []string{Top, Skip, Count, Filter, OrderBy, Select, SkipToken}

// Rules say what one kind of request accepts.
type Rules struct {
	// Allowed are the canonical names of the options the request takes;
	// any other option is refused by name, so a client never believes an
	// option took effect when it was ignored.
	Allowed []string
	// BarePrefix lets the `$` be left out (top=5), as Graph's beta
	// endpoint tolerates.
	BarePrefix bool
}

// Options are the parsed system query options of one request.
type Options struct {
	Top     int // 0 when not given
	Skip    int
	Count   bool
	Filter  connections.Filter
	OrderBy []connections.OrderKey
	Select  []string
	// SkipToken is the raw continuation token; a TokenCodec opens it.
	SkipToken string
	// Given holds every option given, by canonical name, with its raw
	// value: the material of a nextLink and of a token's fingerprint.
	Given map[string]string
}

// MaxFilterLen bounds the $filter text before it is parsed at all.
const MaxFilterLen = 2048

// maxQueryLen bounds the whole query string; every option fits well within.
const maxQueryLen = 8192

// Parse reads a raw query string under rules. Option names are matched
// without regard to case, as OData 4.01 asks ($skipToken is what the most
// used JavaScript Graph client sends); an option given twice under any
// spelling is refused rather than one of its values picked.
func Parse(rawQuery string, rules Rules) (Options, error) {
	opts := Options{Given: map[string]string{}}
	if len(rawQuery) > maxQueryLen {
		return opts, fail("", "The query string is longer than %d characters.", maxQueryLen)
	}
	values, err := url.ParseQuery(rawQuery)
	if err != nil {
		return opts, fail("", "The query string is malformed.")
	}
	for key, vals := range values {
		name := canonical(key, rules.BarePrefix)
		if !slices.Contains(rules.Allowed, name) {
			return opts, fail(printable(key), "Query option '%s' is not supported on this request.", printable(key))
		}
		if _, dup := opts.Given[name]; dup || len(vals) != 1 {
			return opts, fail(name, "Query option '%s' is given more than once.", name)
		}
		if err := checkText(name, vals[0]); err != nil {
			return opts, err
		}
		opts.Given[name] = vals[0]
	}
	return opts, opts.parseValues()
}

// canonical maps an option name to its canonical spelling: lower case with
// the `$`, for system options only. Other names are left as given.
func canonical(key string, bare bool) string {
	lower := strings.ToLower(key)
	if slices.Contains(systemOptions, lower) {
		return lower
	}
	if bare && slices.Contains(systemOptions, "$"+lower) {
		return "$" + lower
	}
	return key
}

// checkText refuses values PostgreSQL text cannot hold (NUL) and bytes that
// are not UTF-8, which would otherwise fail deep in the database.
func checkText(option, v string) error {
	if !utf8.ValidString(v) {
		return fail(option, "Query option '%s' is not valid UTF-8.", option)
	}
	if strings.ContainsRune(v, 0) {
		return fail(option, "Query option '%s' contains a NUL character.", option)
	}
	return nil
}

func (o *Options) parseValues() error {
	var err error
	// A page of no rows, or a negative offset, is not a query at all; how
	// large a page or offset may be is the domain's limit.
	if v, ok := o.Given[Top]; ok {
		if o.Top, err = strconv.Atoi(v); err != nil || o.Top < 1 {
			return fail(Top, "Query option '$top' must be a positive integer.")
		}
	}
	if v, ok := o.Given[Skip]; ok {
		if o.Skip, err = strconv.Atoi(v); err != nil || o.Skip < 0 {
			return fail(Skip, "Query option '$skip' must be a non-negative integer.")
		}
	}
	if v, ok := o.Given[Count]; ok {
		if v != "true" && v != "false" {
			return fail(Count, "Query option '$count' must be true or false.")
		}
		o.Count = v == "true"
	}
	if v, ok := o.Given[Filter]; ok {
		if o.Filter, err = ParseFilter(v); err != nil {
			return err
		}
	}
	if v, ok := o.Given[OrderBy]; ok {
		if o.OrderBy, err = parseOrderBy(v); err != nil {
			return err
		}
	}
	if v, ok := o.Given[Select]; ok {
		if o.Select, err = parseSelect(v); err != nil {
			return err
		}
	}
	o.SkipToken = o.Given[SkipToken]
	return nil
}

func parseOrderBy(s string) ([]connections.OrderKey, error) {
	var keys []connections.OrderKey
	for _, term := range strings.Split(s, ",") {
		words := strings.Fields(term)
		if len(words) == 0 || len(words) > 2 {
			return nil, fail(OrderBy, "Query option '$orderby' is malformed: expected 'property [asc|desc]' terms separated by commas.")
		}
		key := connections.OrderKey{Field: words[0]}
		if len(words) == 2 {
			switch strings.ToLower(words[1]) {
			case "asc":
			case "desc":
				key.Descending = true
			default:
				return nil, fail(OrderBy, "Query option '$orderby' has the direction '%s'; use asc or desc.", truncate(words[1], 32))
			}
		}
		keys = append(keys, key)
	}
	return keys, nil
}

func parseSelect(s string) ([]string, error) {
	var props []string
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			return nil, fail(Select, "Query option '$select' has an empty property name.")
		}
		if !slices.Contains(props, p) {
			props = append(props, p)
		}
	}
	return props, nil
}

// printable keeps an echoed option name short and readable.
func printable(s string) string {
	if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
		return strconv.QuoteToASCII(truncate(strings.ToValidUTF8(s, "?"), 64))
	}
	return truncate(s, 64)
}

// truncate keeps echoed client input short in messages.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "..."
}
