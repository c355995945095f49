// Package connopstest runs connops inside go test, as httptest runs a
// handler: an in-process server on its own throwaway, migrated PostgreSQL
// database, built by the same builder as the connops binary.
//
//	func TestMain(m *testing.M) { connopstest.Main(m) }
//
//	func TestRegistersSchema(t *testing.T) {
//		srv := connopstest.Start(t, connopstest.WithManualProvisioning())
//		token := srv.Token("contoso") // ExternalConnection.ReadWrite.All
//		// ... point your Graph client at srv.URL+"/v1.0" with token,
//		// register a schema, then finish its operation:
//		err := srv.CompleteOperation(ctx, "contoso", location)
//	}
//
// The database comes from the first of: TEST_DATABASE_URL (a server where
// the tests may CREATE DATABASE), a Docker container, or a private cluster
// from the PostgreSQL binaries on the machine (apt-get install postgresql).
// The server is started once per test binary and each Server gets a
// database cloned from a migrated template, dropped when the Server
// closes. When no PostgreSQL is possible, Start skips the test, or fails it
// when CI=true.
//
// Main is required: it stops the container or cluster after the tests, which
// would otherwise outlive the test binary. Start and New refuse to run
// without it.
//
// Nothing here is linked into the connops binary; the package is for tests.
package connopstest
