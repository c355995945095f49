// Package validate checks connops' deployment files offline: the kustomize
// base and overlays in deploy/, docker-compose.yml and the Dockerfile. It has
// only tests; run them with `go test ./...` from this folder. It is its own
// module so the service's go.mod does not carry the Kubernetes libraries.
package validate
