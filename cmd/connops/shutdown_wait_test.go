package main

import (
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/connops/connops/internal/pgtest"
)

// TestSIGTERMAnswersWaits: waits under way when the binary gets SIGTERM
// are answered with the operation as it is once the drain delay ends,
// and the process exits 0 at once, instead of cutting them off when
// SHUTDOWN_TIMEOUT runs out and exiting 1.
func TestSIGTERMAnswersWaits(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	const drain, shutdownTimeout = 500 * time.Millisecond, 10 * time.Second
	p := startProcess(t, buildBinary(t), pgtest.DSN(t),
		"SHUTDOWN_DRAIN_DELAY="+drain.String(), "SHUTDOWN_TIMEOUT="+shutdownTimeout.String())
	client := newClient(p.base, devToken(t, "contoso", "waiter"), time.Minute)
	createConnection(t, client, "shutdown")
	op := operationsPath("shutdown") + "/op1"
	client.mustDo(t, http.StatusCreated, http.MethodPost, operationsPath("shutdown"), `{"id":"op1","status":"inprogress"}`, nil)

	const waits = 3
	answers := make(chan reply, waits)
	for range waits {
		go func() {
			r, err := client.do(http.MethodGet, op, "", map[string]string{"Prefer": "wait=60"})
			if err != nil {
				r = reply{body: []byte(err.Error())}
			}
			answers <- r
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for scrape(t, p.base)["connops_change_watchers"] != waits {
		if time.Now().After(deadline) {
			t.Fatalf("the %d waits never all registered", waits)
		}
		time.Sleep(20 * time.Millisecond)
	}

	sent := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for i := range waits {
		select {
		case r := <-answers:
			if r.status != http.StatusOK || !strings.Contains(string(r.body), `"inprogress"`) {
				t.Errorf("wait %d: %d %s, want 200 with the operation as it is", i, r.status, r.body)
			}
		case <-time.After(drain + 5*time.Second):
			t.Fatalf("wait %d not answered within %s of SIGTERM", i, drain+5*time.Second)
		}
	}
	answered := time.Since(sent)
	select {
	case <-p.exited:
	case <-time.After(shutdownTimeout + 10*time.Second):
		t.Fatal("connops did not exit")
	}
	exitAfter := time.Since(sent)
	report(t, "waits=%d answered-after-SIGTERM=%s exit-after-SIGTERM=%s exit-code=%d drain=%s",
		waits, answered.Round(time.Millisecond), exitAfter.Round(time.Millisecond), p.cmd.ProcessState.ExitCode(), drain)
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	if exitAfter > drain+5*time.Second {
		t.Errorf("exited %s after SIGTERM: the waits held the shutdown", exitAfter)
	}
}
