package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// buildService compiles ./cmd/connops into dir, from the module the
// benchmark is run in.
func buildService(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "connops")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/connops")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/connops (run from the module root, or pass -binary): %w\n%s", err, out.String())
	}
	return bin, nil
}

// serviceConfig is the environment of one service process.
type serviceConfig struct {
	binary      string
	databaseURL string
	secret      string
	// rateLimit is requests per second per tenant and app, also used as the
	// burst; 0 turns the limiter off.
	rateLimit float64
	// adminAddr, when set, is where the service serves pprof.
	adminAddr string
}

// service is a running `connops serve` process.
type service struct {
	cmd  *exec.Cmd
	base string
	logs *logSink
	done chan struct{}
	err  error // of Wait, once done is closed
}

// startService execs the service on a free port. Logging stays on at info,
// as in production; the lines go to a sink that counts and keeps a tail.
func startService(cfg serviceConfig) (*service, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	s := &service{base: "http://" + addr, logs: &logSink{}, done: make(chan struct{})}
	s.cmd = exec.Command(cfg.binary, "serve")
	// A clean environment: nothing from ours (PUBLIC_BASE_URL, GOMAXPROCS...)
	// should change what is measured.
	s.cmd.Env = []string{
		"DATABASE_URL=" + cfg.databaseURL,
		"LISTEN_ADDR=" + addr,
		"AUTH_HS256_SECRET=" + cfg.secret,
		"LOG_LEVEL=info",
		"RATE_LIMIT_RPS=" + strconv.FormatFloat(cfg.rateLimit, 'f', -1, 64),
		// The webhooks step's receiver listens on loopback.
		"WEBHOOK_ALLOW_PRIVATE_NETWORKS=true",
		// The items step's schemas complete at once.
		"PROVISIONING_DELAY=0s",
		// The waiters step's waits hold for all of their Prefer: wait,
		// however long changing 10,000 operations takes.
		"WAIT_MAX=" + strconv.Itoa(waitSeconds*2) + "s",
	}
	if cfg.adminAddr != "" {
		s.cmd.Env = append(s.cmd.Env, "ADMIN_ADDR="+cfg.adminAddr)
	}
	if cfg.rateLimit >= 1 {
		s.cmd.Env = append(s.cmd.Env, "RATE_LIMIT_BURST="+strconv.Itoa(int(min(cfg.rateLimit, 1<<30))))
	}
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cfg.binary, err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	return s, nil
}

func (s *service) pid() int { return s.cmd.Process.Pid }

// waitReady polls /readyz until it answers 200.
func (s *service) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/readyz", nil)
		if res, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.done:
			return fmt.Errorf("service exited before ready (%v); its log ends:\n%s", s.err, s.logs.tail())
		case <-ctx.Done():
			return fmt.Errorf("service not ready after %s; its log ends:\n%s", timeout, s.logs.tail())
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// stop sends SIGTERM and waits; after the grace period it kills. A process
// that had already exited was reported where that was noticed.
func (s *service) stop() error {
	select {
	case <-s.done:
		return nil
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
		return errors.New("service did not stop within 30s of SIGTERM; killed")
	}
	var exit *exec.ExitError
	if errors.As(s.err, &exit) {
		return fmt.Errorf("service exited with %v; its log ends:\n%s", s.err, s.logs.tail())
	}
	return nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("pick a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// logSink stands in for a log collector: it counts the service's log lines
// and bytes and keeps the last few KiB for error messages.
type logSink struct {
	mu    sync.Mutex
	bytes int64
	lines int64
	last  []byte
}

const logTailBytes = 8 << 10

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.bytes += int64(len(p))
	l.lines += int64(bytes.Count(p, []byte{'\n'}))
	l.last = append(l.last, p...)
	if len(l.last) > 2*logTailBytes {
		l.last = append(l.last[:0], l.last[len(l.last)-logTailBytes:]...)
	}
	return len(p), nil
}

func (l *logSink) counts() (lines, bytes int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lines, l.bytes
}

func (l *logSink) tail() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.last[max(0, len(l.last)-logTailBytes):])
}

// startupTimes restarts the service n times against the migrated database
// and times each from exec to the first 200 on /readyz.
func startupTimes(ctx context.Context, cfg serviceConfig, n int) ([]time.Duration, error) {
	var out []time.Duration
	for range n {
		start := time.Now()
		s, err := startService(cfg)
		if err != nil {
			return out, err
		}
		err = s.waitReady(ctx, time.Minute)
		took := time.Since(start)
		if err := errors.Join(err, s.stop()); err != nil {
			return out, err
		}
		out = append(out, took)
	}
	return out, nil
}

// tempDir is the run's scratch directory.
func tempDir() (string, func(), error) {
	dir, err := os.MkdirTemp("", "connops-bench-")
	if err != nil {
		return "", nil, fmt.Errorf("create temp dir: %w", err)
	}
	return dir, func() { _ = os.RemoveAll(dir) }, nil
}
