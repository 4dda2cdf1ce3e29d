// Package configs ships ready-made configuration files, embedding the default
// one so the binary runs with no file at all.
package configs

import _ "embed"

// DefaultFilename is the name the embedded default is reported under in
// errors; relative paths in it resolve from the working directory.
const DefaultFilename = "default.hcl"

// Default is default.hcl: SQLite under ./data and the sandbox provider.
//
//go:embed default.hcl
var Default []byte
