package postgres_test

import (
	"testing"

	"github.com/connops/connops/internal/pgtest"
)

// TestMain gives the package's tests their databases (see pgtest).
func TestMain(m *testing.M) { pgtest.Main(m) }
