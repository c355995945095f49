package certs_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connops/connops/internal/certs"
)

// serve runs an HTTPS server on a loopback port with cfg and returns its
// address.
func serve(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, "ok")
		}),
		TLSConfig:         cfg,
		ReadHeaderTimeout: 5 * time.Second,
		// Tests that expect a failed handshake would print it otherwise.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// poolFrom trusts exactly the certificates in the PEM file at path.
func poolFrom(t *testing.T, path string) *x509.CertPool {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		t.Fatalf("%s: no certificates", path)
	}
	return pool
}

// handshake connects to addr as a client asking for serverName and
// returns the verified leaf the server presented.
func handshake(addr string, roots *x509.CertPool, serverName string) (*x509.Certificate, error) {
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: serverName})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0], nil
}

// servedSerial is the serial of the leaf served at addr, as hex.
func servedSerial(t *testing.T, addr string, roots *x509.CertPool) string {
	t.Helper()
	leaf, err := handshake(addr, roots, "localhost")
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	return leaf.SerialNumber.Text(16)
}

// fileSerial is the serial of the certificate in the PEM file at path.
func fileSerial(t *testing.T, path string) string {
	t.Helper()
	return readLeaf(t, path).SerialNumber.Text(16)
}

// readLeaf parses the first certificate in the PEM file at path.
func readLeaf(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s: no PEM data", path)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// newCA makes a development CA in a fresh directory.
func newCA(t *testing.T) *certs.CA {
	t.Helper()
	ca, err := certs.LoadOrCreateCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// issue writes a fresh server pair from ca into a new directory.
func issue(t *testing.T, ca *certs.CA, hosts ...string) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile, err := ca.IssueServer(t.TempDir(), hosts)
	if err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// moveOver renames src over dst, as cert-manager and other careful writers
// replace files.
func moveOver(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.Rename(src, dst); err != nil {
		t.Fatal(err)
	}
}

// clock is a test clock that moves only when told to.
type clock struct{ now atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.now.Store(time.Now().UnixNano())
	return c
}

func (c *clock) Now() time.Time { return time.Unix(0, c.now.Load()) }

func (c *clock) Advance(d time.Duration) { c.now.Add(int64(d)) }

// logBuffer collects log output written by server goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
