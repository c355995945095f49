package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of the CPU times in /proc/<pid>/stat. USER_HZ is 100
// on every Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

// procStat is the part of /proc/<pid>/stat we use.
type procStat struct {
	ppid                         int
	comm                         string
	utime, stime, cutime, cstime time.Duration
}

func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	// comm is in parentheses and may itself hold spaces or parentheses, so
	// the fields after it are found from the last ')'.
	open, closing := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || closing < open {
		return procStat{}, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[closing+1:]))
	// f[0] is field 3 (state); utime..cstime are fields 14..17.
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(f))
	}
	st := procStat{comm: string(b[open+1 : closing])}
	st.ppid, _ = strconv.Atoi(f[1])
	ticks := make([]time.Duration, 4)
	for i := range ticks {
		n, _ := strconv.ParseInt(f[11+i], 10, 64)
		ticks[i] = time.Duration(n) * clockTick
	}
	st.utime, st.stime, st.cutime, st.cstime = ticks[0], ticks[1], ticks[2], ticks[3]
	return st, nil
}

// processCPU is the user plus system time pid has used so far.
func processCPU(pid int) time.Duration {
	st, err := readStat(pid)
	if err != nil {
		return 0
	}
	return st.utime + st.stime
}

// pids lists the processes visible in /proc.
func pids() []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		if n, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// clusterCPU is the CPU time of a PostgreSQL cluster: the postmaster, its
// live children, and through its cutime/cstime every child it has reaped,
// so backends that exit between two samples are still counted.
func clusterCPU(postmaster int) time.Duration {
	st, err := readStat(postmaster)
	if err != nil {
		return 0
	}
	total := st.utime + st.stime + st.cutime + st.cstime
	for _, pid := range pids() {
		if c, err := readStat(pid); err == nil && c.ppid == postmaster {
			total += c.utime + c.stime
		}
	}
	return total
}

// findChild returns the first process of parent named comm.
func findChild(parent int, comm string) (int, bool) {
	for _, pid := range pids() {
		if st, err := readStat(pid); err == nil && st.ppid == parent && st.comm == comm {
			return pid, true
		}
	}
	return 0, false
}

// memoryKB reads a "Vm..." line of /proc/<pid>/status, in KiB.
func memoryKB(pid int, field string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		v := strings.Fields(rest)
		if len(v) == 0 {
			break
		}
		return strconv.ParseInt(v[0], 10, 64)
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// cpuSample is one reading of the CPU time of everything under test.
type cpuSample struct {
	service time.Duration
	db      time.Duration
	bench   time.Duration
	at      time.Time
}

// cpuProbe reads the CPU time of the service, the database cluster and this
// process. postmaster is 0 when the database is not ours to watch.
type cpuProbe struct {
	service    int
	postmaster int
}

func (p cpuProbe) sample() cpuSample {
	s := cpuSample{bench: processCPU(os.Getpid()), at: time.Now()}
	if p.service != 0 {
		s.service = processCPU(p.service)
	}
	if p.postmaster != 0 {
		s.db = clusterCPU(p.postmaster)
	}
	return s
}

// cpuUsage is the CPU used during one measured window.
type cpuUsage struct {
	service, db, bench time.Duration
	wall               time.Duration
	dbKnown            bool
}

func (p cpuProbe) usage(from, to cpuSample) cpuUsage {
	return cpuUsage{
		service: to.service - from.service,
		db:      to.db - from.db,
		bench:   to.bench - from.bench,
		wall:    to.at.Sub(from.at),
		dbKnown: p.postmaster != 0,
	}
}

// cpuModel is the processor's model name from /proc/cpuinfo.
func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if name, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func loadAverage() string {
	b, _ := os.ReadFile(filepath.Join("/proc", "loadavg"))
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
