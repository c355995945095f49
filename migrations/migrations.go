// Package migrations holds the goose SQL migrations, embedded so the binary
// carries its own schema and needs no files beside it at run time.
package migrations

import "embed"

// FS holds every migration file. go:embed cannot reach parent folders, so the
// embed lives next to the files.
//
//go:embed *.sql
var FS embed.FS
