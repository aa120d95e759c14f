#!/usr/bin/env bash
# Runs the integration suite (go test -tags integration ./integration/)
# against a throw-away real Apache Kafka broker: started here on its own port
# with its data in a temporary directory, and always stopped afterwards.
#
# Environment (optional): PEAKEND_IT_PORT (default 19092; the broker also
# uses the next three ports: controller, SASL, TLS), PEAKEND_KAFKA_VERSION
# (default: the 4.x of deploy/kafka-local/pom.xml; 3.9 for the 3.9 line),
# PEAKEND_KAFKA_CACHE (the jar cache, see deploy/kafka-local/kafka.sh), GO,
# GOTESTFLAGS (e.g. -run X).
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
PORT=${PEAKEND_IT_PORT:-19092}
KAFKA=$PWD/deploy/kafka-local/kafka.sh

RUN=$(mktemp -d "${TMPDIR:-/tmp}/peakend-it.XXXXXX")
export PEAKEND_KAFKA_DATA=$RUN/kafka PEAKEND_KAFKA_SASL=1
status=1
cleanup() {
  "$KAFKA" down --port "$PORT" >/dev/null 2>&1 || "$KAFKA" down --port "$PORT" || true
  if [ "$status" != 0 ] && [ -f "$PEAKEND_KAFKA_DATA/logs/server-$PORT.log" ]; then
    echo "---- last lines of the broker's log ----" >&2
    tail -n 30 "$PEAKEND_KAFKA_DATA/logs/server-$PORT.log" >&2 || true
  fi
  rm -rf "$RUN"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# One exact version for the whole run, TestTLS's own broker included.
PEAKEND_KAFKA_VERSION=$("$KAFKA" version)
export PEAKEND_KAFKA_VERSION
echo "integration suite against Apache Kafka $PEAKEND_KAFKA_VERSION on 127.0.0.1:$PORT"
"$KAFKA" install >/dev/null
"$KAFKA" up --port "$PORT"
"$GO" build -o "$RUN/peakend" ./cmd/peakend

export PEAKEND_IT_BROKERS=127.0.0.1:$PORT
export PEAKEND_IT_SASL_BROKERS=127.0.0.1:$((PORT + 2))
export PEAKEND_IT_KAFKA_SH=$KAFKA PEAKEND_IT_KAFKA_PORT=$PORT
export PEAKEND_IT_BIN=$RUN/peakend
# shellcheck disable=SC2086
"$GO" test -tags integration -count=1 -timeout 20m -v ${GOTESTFLAGS:-} ./integration/
status=0
