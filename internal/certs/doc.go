// Package certs gives connops its TLS certificates: a development CA that
// issues a localhost server certificate, which developers trust once and keep
// trusting across restarts.
package certs
