#!/usr/bin/env bash
# `make bench-kafka`: peakend end to end against a real Kafka broker, in one
# invocation: sustained events/s from produce to alert and the latency from
# a record's append (LogAppendTime) to its alert's arrival, at full and at
# half load, with exactly_once off and on; then the keys/s at which a fresh
# instance restores a changelog partition from the broker. Figures go to
# stdout, a Markdown table last; nothing here fails on wall-clock.
#
# PEAKEND_BENCH_BROKERS=host:port uses a running broker; otherwise a
# throw-away one is started on PEAKEND_BENCH_PORT (default 19192, and the
# next port) and stopped afterwards. PEAKEND_BENCH_EVENTS (default 400000;
# fewer and the start-up of producer and pipeline weighs on the rate),
# PEAKEND_BENCH_CUSTOMERS (default 20000), PEAKEND_BENCH_HALF_RATE (events/s
# offered in the half-load phase; default 50000, half of issue 3's goal;
# 0 = half the full-load rate just measured), PEAKEND_BENCH_EXACTLY_ONCE
# (off,on (default), off or on), PEAKEND_BENCH_RESTORE_CUSTOMERS (default
# 100000, 3 keys each; 0 skips the restore), PEAKEND_BENCH_CPUPROFILE=PREFIX
# (a CPU profile per phase).
set -euo pipefail
cd "$(dirname "$0")/.."
KAFKA=$PWD/deploy/kafka-local/kafka.sh
brokers=${PEAKEND_BENCH_BROKERS:-}
if [ -z "$brokers" ]; then
  port=${PEAKEND_BENCH_PORT:-19192}
  export PEAKEND_KAFKA_DATA
  PEAKEND_KAFKA_DATA=$(mktemp -d "${TMPDIR:-/tmp}/peakend-bench-kafka.XXXXXX")
  trap '"$KAFKA" down --port "$port" >/dev/null || true; rm -rf "$PEAKEND_KAFKA_DATA"' EXIT
  trap 'exit 130' INT TERM
  "$KAFKA" install >/dev/null
  "$KAFKA" up --port "$port"
  brokers=127.0.0.1:$port
fi
eos=${PEAKEND_BENCH_EXACTLY_ONCE:-off,on}
case $eos in 1|true|yes) eos=on ;; 0|false|no) eos=off ;; esac
go run ./cmd/peakend-bench -brokers "$brokers" -events "${PEAKEND_BENCH_EVENTS:-400000}" \
  -half-rate "${PEAKEND_BENCH_HALF_RATE:-50000}" \
  -customers "${PEAKEND_BENCH_CUSTOMERS:-20000}" -exactly-once "$eos" \
  -restore-customers "${PEAKEND_BENCH_RESTORE_CUSTOMERS:-100000}" \
  -cpuprofile "${PEAKEND_BENCH_CPUPROFILE:-}"
