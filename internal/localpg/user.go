package localpg

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// Account is the OS account the database programs run as. A nil Account means
// "the current user". initdb, postgres and pgbouncer all refuse to run as
// root, so when we are root we hand them to the postgres account (what
// distribution packages use) or, failing that, to nobody.
type Account struct {
	name     string
	uid, gid uint32
}

// ServiceAccount picks the account for database programs: nil when not root.
func ServiceAccount() (*Account, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	var lookupErr error
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			lookupErr = err
			continue
		}
		uid, err := strconv.ParseUint(u.Uid, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("user %s uid %q: %w", name, u.Uid, err)
		}
		gid, err := strconv.ParseUint(u.Gid, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("user %s gid %q: %w", name, u.Gid, err)
		}
		return &Account{name: name, uid: uint32(uid), gid: uint32(gid)}, nil
	}
	return nil, fmt.Errorf("running as root and no postgres or nobody user to run the server as: %w", lookupErr)
}

// Own hands paths we created to the account so it can write there.
func (u *Account) Own(paths ...string) error {
	if u == nil {
		return nil
	}
	for _, p := range paths {
		if err := os.Chown(p, int(u.uid), int(u.gid)); err != nil {
			return fmt.Errorf("chown %s to %s: %w", p, u.name, err)
		}
	}
	return nil
}

// SysProcAttr runs a child as the account, in its own process group (so
// everything it leaves behind can be killed together), and ties its life to
// ours with deathSig, so a killed test binary does not leak servers. Go sets
// the death signal after switching credentials, which matters because a uid
// change clears it.
func (u *Account) SysProcAttr(deathSig syscall.Signal) *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: deathSig}
	if u != nil {
		attr.Credential = &syscall.Credential{Uid: u.uid, Gid: u.gid, NoSetGroups: true}
	}
	return attr
}

// checkReachable fails early, with a useful message, when the server user
// cannot traverse to dir; otherwise the child's chdir fails with a bare
// "fork/exec: permission denied". t.TempDir, for one, makes 0700 parents.
func (u *Account) checkReachable(dir string) error {
	if u == nil {
		return nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for p := abs; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		if !u.canSearch(fi) {
			return fmt.Errorf("running as root, so postgres runs as user %s, which cannot enter %s (mode %04o); choose a Dir it can reach or leave Dir empty", u.name, p, uint32(fi.Mode().Perm()))
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

func (u *Account) canSearch(fi os.FileInfo) bool {
	perm := fi.Mode().Perm()
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !ok:
		return true // cannot tell; let the start itself report
	case st.Uid == u.uid:
		return perm&0o100 != 0
	case st.Gid == u.gid:
		return perm&0o010 != 0
	default:
		return perm&0o001 != 0
	}
}
