package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// profile starts fetching a CPU profile of the service that covers most of
// the measured window, and writes it to path. The channel yields the
// outcome; it yields nil at once when profiling is off.
func (b *bench) profile(ctx context.Context, path string) <-chan error {
	done := make(chan error, 1)
	if b.admin == "" || path == "" {
		done <- nil
		return done
	}
	seconds := max(1, int(b.opts.duration.Seconds()))
	go func() {
		// The window's end cancels ctx before the profile is written back.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Duration(seconds)*time.Second+30*time.Second)
		defer cancel()
		done <- fetchProfile(ctx, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", b.admin, seconds), path)
	}()
	return done
}

func fetchProfile(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("fetch profile: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch profile: status %d", res.StatusCode)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create profile file: %w", err)
	}
	if _, err := io.Copy(f, res.Body); err != nil {
		f.Close()
		return fmt.Errorf("write profile: %w", err)
	}
	return f.Close()
}
