package odata_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/connops/connops/internal/connections"
	"github.com/connops/connops/internal/odata"
)

var list = odata.Rules{Allowed: []string{odata.Top, odata.Skip, odata.Count, odata.Filter, odata.OrderBy, odata.Select, odata.SkipToken}}

func TestOptionNamesIgnoreCase(t *testing.T) {
	// $skipToken is what @microsoft/microsoft-graph-client's .skipToken()
	// sends; OData 4.01 matches system query option names without regard
	// to case.
	for _, raw := range []string{"$skipToken=abc", "$SKIPTOKEN=abc", "$skiptoken=abc"} {
		opts, err := odata.Parse(raw, list)
		if err != nil || opts.SkipToken != "abc" {
			t.Errorf("%s: token %q, err %v", raw, opts.SkipToken, err)
		}
	}
	if opts, err := odata.Parse("$TOP=5&$Count=true", list); err != nil || opts.Top != 5 || !opts.Count {
		t.Errorf("$TOP/$Count: %+v %v", opts, err)
	}
}

func TestOptionGivenTwiceIsRefused(t *testing.T) {
	beta := list
	beta.BarePrefix = true
	for _, tc := range []struct {
		raw   string
		rules odata.Rules
	}{
		{"top=1&$top=3", beta},
		{"$top=1&$TOP=3", list},
		{"$top=1&$top=1", list},
		{"filter=id eq 'a'&$filter=id eq 'b'", beta},
	} {
		_, err := odata.Parse(tc.raw, tc.rules)
		var e *odata.Error
		if !errors.As(err, &e) || !strings.Contains(e.Message, "more than once") {
			t.Errorf("%s: err = %v, want a refusal naming the repetition", tc.raw, err)
		}
	}
	// Without the bare prefix, "top" is not an option at all.
	if _, err := odata.Parse("top=1", list); err == nil || !strings.Contains(err.Error(), "not supported") {
		t.Errorf("top=1 on v1.0: %v", err)
	}
}

func TestValuesMustBeCleanText(t *testing.T) {
	for _, raw := range []string{"$filter=id eq '%00'", "$filter=id eq '%FF'", "$select=%00", "$orderby=id%C0"} {
		_, err := odata.Parse(raw, list)
		if !errors.Is(err, connections.ErrInvalid) {
			t.Errorf("%s: err = %v, want a 400", raw, err)
		}
	}
	// An option name with a NUL is named, printably, in the refusal.
	_, err := odata.Parse("%00x=1", list)
	var e *odata.Error
	if !errors.As(err, &e) || strings.ContainsRune(e.Message, 0) {
		t.Errorf("NUL name: %q", err)
	}
}

func TestTokensAreTamperEvident(t *testing.T) {
	codec, err := odata.NewTokenCodec([]byte("first-key-0123456789"), []byte("older-key-0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	cursor := connections.Cursor{"inprogress", "op-7"}
	tok := codec.Seal(cursor, "q")
	if got, err := codec.Open(tok, "q"); err != nil || !slices.Equal(got, cursor) {
		t.Fatalf("open: %v %v", got, err)
	}
	payload, mac, _ := strings.Cut(tok, ".")
	forged := []string{
		tok + "x",
		payload + ".",
		strings.ToUpper(payload) + "." + mac,
		"eyJhIjpbImNvbXBsZXRlZCIsIngiXX0." + mac, // another position, same MAC
		"not-a-token",
	}
	for _, f := range forged {
		if _, err := codec.Open(f, "q"); !errors.Is(err, connections.ErrInvalid) {
			t.Errorf("forged token %q opened: %v", f, err)
		}
	}
	if _, err := codec.Open(tok, "another query"); err == nil {
		t.Error("a token opened for another query")
	}
	// Rotation: a token sealed with the older key still opens while that
	// key is listed, and not once it is dropped.
	old, _ := odata.NewTokenCodec([]byte("older-key-0123456789"))
	fromOld := old.Seal(cursor, "q")
	if _, err := codec.Open(fromOld, "q"); err != nil {
		t.Errorf("token of a listed older key: %v", err)
	}
	only, _ := odata.NewTokenCodec([]byte("first-key-0123456789"))
	if _, err := only.Open(fromOld, "q"); err == nil {
		t.Error("token of a dropped key still opens")
	}
	if _, err := odata.NewTokenCodec([]byte("short")); err == nil {
		t.Error("a short key was accepted")
	}
}
