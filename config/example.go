package config

import _ "embed"

// Example is a commented example configuration file (testdata/example.yaml,
// shown at the end of docs/configuration.md): one detector of each type,
// with only the kafka sink enabled, so that it is valid without
// environment variables.
//
//go:embed testdata/example.yaml
var Example []byte
