package localpg

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// ErrNoBinaries means no PostgreSQL server binaries were found on this
// machine; callers such as test helpers skip rather than fail on it.
var ErrNoBinaries = errors.New("PostgreSQL server binaries not found; install postgresql")

// binDir finds the directory holding initdb and postgres. pg_config is asked
// first because it names the installation the user chose; Debian-style
// installs keep the server binaries off PATH, so /usr/lib/postgresql is the
// second guess.
func binDir() (string, error) {
	if pgConfig, err := exec.LookPath("pg_config"); err == nil {
		out, err := exec.Command(pgConfig, "--bindir").Output()
		if dir := strings.TrimSpace(string(out)); err == nil && hasServer(dir) {
			return dir, nil
		}
	}
	if dir := newestDebianBinDir(); dir != "" {
		return dir, nil
	}
	if initdb, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(initdb); err == nil {
			initdb = real
		}
		if dir := filepath.Dir(initdb); hasServer(dir) {
			return dir, nil
		}
	}
	return "", ErrNoBinaries
}

func newestDebianBinDir() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	best, bestVersion := "", -1.0
	for _, dir := range dirs {
		// Versions compare numerically: "9.6" < "10" < "15".
		v, err := strconv.ParseFloat(filepath.Base(filepath.Dir(dir)), 64)
		if err != nil || !hasServer(dir) {
			continue
		}
		if v > bestVersion {
			best, bestVersion = dir, v
		}
	}
	return best
}

func hasServer(dir string) bool {
	for _, name := range []string{"initdb", "postgres"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.IsDir() {
			return false
		}
	}
	return true
}
