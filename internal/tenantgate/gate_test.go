package tenantgate_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/connops/connops/internal/tenantgate"
)

func TestSlotsArePerTenant(t *testing.T) {
	g := tenantgate.New(2)
	ctx := context.Background()
	r1, err1 := g.Acquire(ctx, "a")
	r2, err2 := g.Acquire(ctx, "a")
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := g.Acquire(short, "a"); !errors.Is(err, tenantgate.ErrBusy) {
		t.Errorf("a third slot of tenant a: %v, want ErrBusy", err)
	}
	rb, err := g.Acquire(ctx, "b")
	if err != nil {
		t.Fatalf("tenant b waits on tenant a: %v", err)
	}
	rb()
	got := make(chan error, 1)
	go func() {
		r, err := g.Acquire(ctx, "a")
		if err == nil {
			r()
		}
		got <- err
	}()
	time.Sleep(20 * time.Millisecond)
	r1()
	if err := <-got; err != nil {
		t.Errorf("a freed slot did not pass to the waiter: %v", err)
	}
	r2()
}

func TestNilGateAdmitsAll(t *testing.T) {
	var g *tenantgate.Gate
	for range 100 {
		if _, err := g.Acquire(context.Background(), "a"); err != nil {
			t.Fatal(err)
		}
	}
	if tenantgate.New(0) != nil {
		t.Error("New(0) is not the open gate")
	}
}
