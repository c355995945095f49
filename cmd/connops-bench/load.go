package main

import (
	"context"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// loadSpec is one closed-loop step: clients workers each run do back to back
// for warmup+window; only what completes inside the window is counted.
type loadSpec struct {
	clients int
	warmup  time.Duration
	window  time.Duration
	// do runs one request for worker w and returns the units of work it did
	// (creates, reads); a non-nil error counts the request as failed.
	do func(ctx context.Context, w int) (int, error)
	// probe, when set, is read as the window opens and closes.
	probe *cpuProbe
	// during, when set, runs in its own goroutine while the window is open.
	during func(ctx context.Context)
}

type sample struct {
	end   time.Duration // since the step started
	took  time.Duration
	units int
	err   error
}

// stepResult summarizes the requests that completed inside the window.
type stepResult struct {
	requests int
	units    int
	errors   int
	firstErr error
	window   time.Duration
	p50, p99 time.Duration
	cpu      cpuUsage
}

// rate is units per second of the window.
func (r stepResult) rate() float64 {
	if r.window <= 0 {
		return 0
	}
	return float64(r.units) / r.window.Seconds()
}

// requestRate is successful requests per second of the window.
func (r stepResult) requestRate() float64 {
	if r.window <= 0 {
		return 0
	}
	return float64(r.requests) / r.window.Seconds()
}

func drive(ctx context.Context, s loadSpec) (stepResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var stop atomic.Bool
	logs := make([][]sample, s.clients)
	t0 := time.Now()
	var wg sync.WaitGroup
	for w := range s.clients {
		wg.Go(func() {
			for !stop.Load() {
				start := time.Now()
				n, err := s.do(ctx, w)
				end := time.Now()
				logs[w] = append(logs[w], sample{end: end.Sub(t0), took: end.Sub(start), units: n, err: err})
				if ctx.Err() != nil {
					return
				}
			}
		})
	}

	sleep(ctx, s.warmup)
	var before, after cpuSample
	if s.probe != nil {
		before = s.probe.sample()
	}
	open := time.Since(t0)
	duringDone := make(chan struct{})
	duringCtx, stopDuring := context.WithCancel(ctx)
	go func() {
		defer close(duringDone)
		if s.during != nil {
			s.during(duringCtx)
		}
	}()
	sleep(ctx, s.window)
	closing := time.Since(t0)
	if s.probe != nil {
		after = s.probe.sample()
	}
	stopDuring()
	<-duringDone
	stop.Store(true)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return stepResult{}, err
	}

	res := summarize(logs, open, closing)
	if s.probe != nil {
		res.cpu = s.probe.usage(before, after)
	}
	return res, nil
}

func summarize(logs [][]sample, open, closing time.Duration) stepResult {
	res := stepResult{window: closing - open}
	var took []time.Duration
	for _, log := range logs {
		for _, s := range log {
			if s.end < open || s.end > closing {
				continue
			}
			res.units += s.units
			if s.err != nil {
				res.errors++
				if res.firstErr == nil {
					res.firstErr = s.err
				}
				continue
			}
			res.requests++
			took = append(took, s.took)
		}
	}
	slices.Sort(took)
	res.p50, res.p99 = percentile(took, 0.50), percentile(took, 0.99)
	return res
}

// percentile uses the nearest-rank method on sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(float64(len(sorted))*p)) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
