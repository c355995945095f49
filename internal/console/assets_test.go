package console

import (
	"bytes"
	"io/fs"
	"path"
	"regexp"
	"testing"
)

// TestScriptsNeverAssignHTML keeps API data away from the HTML parser: no
// embedded script assigns innerHTML or outerHTML, calls insertAdjacentHTML
// or document.write, builds code from strings, or sets a style attribute
// (which the policy would block). The vendored uPlot passes too: it styles
// through the CSSOM, which the policy allows.
func TestScriptsNeverAssignHTML(t *testing.T) {
	t.Parallel()
	banned := regexp.MustCompile(`\.innerHTML\s*=|\.outerHTML\s*=|insertAdjacentHTML|document\.write|\beval\(|new Function\(|setAttribute\(\s*['"]style`)
	var scripts int
	err := fs.WalkDir(assets, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".js" {
			return err
		}
		scripts++
		b, err := assets.ReadFile(p)
		if err != nil {
			return err
		}
		for i, line := range bytes.Split(b, []byte("\n")) {
			if m := banned.Find(line); m != nil {
				t.Errorf("%s:%d uses %s", p, i+1, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if scripts == 0 {
		t.Fatal("no script is embedded")
	}
}
