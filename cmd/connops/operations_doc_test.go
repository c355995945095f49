package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// envName matches a quoted upper-case variable name such as "DATABASE_URL";
// connops names every variable it reads this way in cmd/connops and internal/app, whether
// passed to getenv directly or through a table of names.
var envName = regexp.MustCompile(`"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)"`)

// getenvCall matches a direct getenv("NAME") call.
var getenvCall = regexp.MustCompile(`getenv\("([A-Z0-9_]+)"\)`)

// docRow matches a configuration table row: | `NAME` | ...
var docRow = regexp.MustCompile("^\\|\\s*`([A-Z][A-Z0-9_]*)`\\s*\\|")

// TestOperationsDocListsEveryEnvVar keeps docs/operations.md's configuration
// table and the binary's environment in step, in both directions.
func TestOperationsDocListsEveryEnvVar(t *testing.T) {
	// The binary's own files and the app package, which reads the
	// configuration for it.
	sources, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	appSources, err := filepath.Glob("../../internal/app/*.go")
	if err != nil {
		t.Fatal(err)
	}
	sources = append(sources, appSources...)
	read := map[string]bool{}
	direct := map[string]bool{}
	for _, f := range sources {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range envName.FindAllStringSubmatch(string(src), -1) {
			read[m[1]] = true
		}
		for _, m := range getenvCall.FindAllStringSubmatch(string(src), -1) {
			direct[m[1]] = true
		}
	}
	// Names read with a direct getenv call count even without an
	// underscore (GOGC), which the name scan cannot tell from other strings.
	for name := range direct {
		read[name] = true
	}
	if len(read) == 0 {
		t.Fatal("found no environment variables in cmd/connops")
	}

	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	inSection := false
	for _, line := range strings.Split(string(doc), "\n") {
		if strings.HasPrefix(line, "## ") {
			inSection = strings.HasPrefix(line, "## Configuration")
			continue
		}
		if m := docRow.FindStringSubmatch(line); inSection && m != nil {
			documented[m[1]] = true
		}
	}
	for _, name := range sorted(read) {
		if !documented[name] {
			t.Errorf("%s is read by connops but not in the configuration table of docs/operations.md", name)
		}
	}
	for _, name := range sorted(documented) {
		if !read[name] {
			t.Errorf("docs/operations.md documents %s, which connops does not read", name)
		}
	}
	report(t, "variables read=%d documented=%d", len(read), len(documented))
}

func sorted(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
