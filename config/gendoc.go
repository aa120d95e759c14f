package config

// docs/configuration.md is generated from this package's doc comments and
// defaults; TestConfigurationReference fails when they drift apart.
//go:generate go run ./internal/gendoc -o ../docs/configuration.md
