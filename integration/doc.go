// Package integration holds peakend's tests against a real Apache Kafka
// broker (build tag integration; `make test-integration` starts the broker,
// runs them and stops it). Without PEAKEND_IT_BROKERS every test skips.
package integration
