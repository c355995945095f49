// Package certs gives connops its TLS certificates: a Reloader that serves a
// certificate and key from files and picks up rotated files without a
// restart, and a development CA that issues a localhost server certificate
// which developers trust once and keep trusting across restarts.
package certs
