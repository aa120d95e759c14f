#!/usr/bin/env bash
# `make bench-kafka`: peakend end to end against a real Kafka broker —
# sustained events/s from produce to alert, and the latency from a record's
# append (LogAppendTime) to its alert's arrival, at full and at half load.
# Figures go to stdout; nothing here fails on wall-clock.
#
# PEAKEND_BENCH_BROKERS=host:port uses a running broker; otherwise a
# throw-away one is started on PEAKEND_BENCH_PORT (default 19192, and the
# next port) and stopped afterwards. PEAKEND_BENCH_EVENTS (default 200000),
# PEAKEND_BENCH_CUSTOMERS (default 20000). PEAKEND_BENCH_EXACTLY_ONCE=1 sets
# kafka.exactly_once (meaningful once transactions are built).
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
  "$KAFKA" up --port "$port"
  brokers=127.0.0.1:$port
fi
eos=false
case ${PEAKEND_BENCH_EXACTLY_ONCE:-0} in 1|true|yes) eos=true ;; esac
go run ./internal/benchkafka -brokers "$brokers" -events "${PEAKEND_BENCH_EVENTS:-200000}" \
  -customers "${PEAKEND_BENCH_CUSTOMERS:-20000}" -exactly-once="$eos"
