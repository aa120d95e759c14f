package config

import _ "embed"

// Example is a commented example configuration file, equal in meaning to
// the contract's example (section 8) with only the kafka sink enabled, so
// that it is valid without environment variables.
//
//go:embed testdata/example.yaml
var Example []byte
