#!/usr/bin/env bash
# `make bench-peer`: peakend against its peer, the same detection as a Kafka
# Streams application (bench/kstreams/, RocksDB store), on one real broker.
# The same demo events are produced once to one 4-partition topic; then
# peakend and the peer each read all of it from the start, one after the
# other, at-least-once and then exactly-once. Detection: the late_delivery
# threshold and repeated_failures repeat detectors, 72 h cooldown (the
# defaults' values). Rates run from the first record processed to the last
# (start-up and JIT before the first record not counted). Prints both rates,
# the ratio, both alert counts (from each side's alerts topic, read_committed)
# and the peer's settings; fails if the alert counts differ. Never fails on
# wall-clock. Not part of CI.
#
# PEAKEND_BENCH_BROKERS=host:port uses a running broker (topics named
# bench-peer-* are left on it); otherwise a throw-away broker (the repo's
# Kafka, deploy/kafka-local; PEAKEND_KAFKA_VERSION as there) is started on
# PEAKEND_BENCH_PORT (default 19196, and the next port) and stopped after.
# PEAKEND_BENCH_EVENTS (default 1500000: Kafka Streams' JIT needs about 1M
# to warm up), PEAKEND_BENCH_CUSTOMERS (default 20000),
# PEAKEND_BENCH_EXACTLY_ONCE ("off on", default), PEAKEND_PEER_JAVA_OPTS
# (default -Xms1g -Xmx1g), PEAKEND_PEER_SET ("key=value ..." added to or
# overriding the peer's settings, e.g. "commit.interval.ms=100").
set -euo pipefail
cd "$(dirname "$0")/.."
KAFKA=$PWD/deploy/kafka-local/kafka.sh
events=${PEAKEND_BENCH_EVENTS:-1500000}
customers=${PEAKEND_BENCH_CUSTOMERS:-20000}
work=$(mktemp -d "${TMPDIR:-/tmp}/peakend-bench-peer.XXXXXX")
brokers=${PEAKEND_BENCH_BROKERS:-}
cleanup() { rm -rf "$work"; }
if [ -z "$brokers" ]; then
  port=${PEAKEND_BENCH_PORT:-19196}
  export PEAKEND_KAFKA_DATA=$work/kafka
  cleanup() { "$KAFKA" down --port "$port" >/dev/null || true; rm -rf "$work"; }
  "$KAFKA" install >/dev/null
  broker="Apache Kafka $("$KAFKA" version) (deploy/kafka-local, 127.0.0.1:$port)"
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  "$KAFKA" up --port "$port"
  brokers=127.0.0.1:$port
else
  trap cleanup EXIT
  broker="the broker at $brokers (PEAKEND_BENCH_BROKERS)"
fi

# Build both sides first: the peer offline when Maven's cache has it.
echo "== building peakend-bench and the peer (bench/kstreams)"
go build -o "$work/peakend-bench" ./cmd/peakend-bench
(cd bench/kstreams && { mvn -q -B -o package -DskipTests >/dev/null 2>&1 || mvn -q -B package -DskipTests; })
cp="$PWD/bench/kstreams/target/peakend-peer.jar:$PWD/bench/kstreams/target/lib/*"
read -r -a javaopts <<<"${PEAKEND_PEER_JAVA_OPTS:--Xms1g -Xmx1g}"
sets=()
for kv in ${PEAKEND_PEER_SET:-}; do sets+=(--set "$kv"); done

bench=("$work/peakend-bench" -brokers "$brokers" -events "$events" -customers "$customers")
topic=bench-peer-$(date +%s)
echo "== $events demo events over $customers customers, once, to $topic on $broker"
"${bench[@]}" -peer produce -topic "$topic"

load() { uptime | sed 's/.*load average: */load /'; }
rows=()
status=0
for eos in ${PEAKEND_BENCH_EXACTLY_ONCE:-off on}; do
  echo "== exactly_once=$eos: peakend ($(load))"
  pk=$("${bench[@]}" -peer run -topic "$topic" -exactly-once "$eos")
  echo "$pk"
  echo "== exactly_once=$eos: the peer, Kafka Streams ($(load))"
  alerts=bench-peer-$eos-$(date +%s)-alerts
  out=$(java "${javaopts[@]}" -cp "$cp" io.github.peakend.peer.PeerBench --brokers "$brokers" --topic "$topic" \
    --events "$events" --exactly-once "$eos" --alerts "$alerts" --app-id "${alerts%-alerts}" "${sets[@]}")
  echo "$out"
  counted=$("${bench[@]}" -peer count -topic "$alerts")
  echo "peer's alerts topic: $counted"
  field() { sed -n "s/.*[ ^]$1=\([^ ]*\).*/\1/p" <<<" $2" | tail -n1; }
  pr=$(field rate "$pk") qr=$(field rate "$(grep '^peer exactly_once' <<<"$out")")
  pa=$(field alerts "$pk") qa=$(field alerts "$counted")
  pf=$(field fingerprint "$pk") qf=$(field fingerprint "$counted")
  same=yes
  if [ "$pa" != "$qa" ]; then same="NO: counts differ"; status=1; elif [ "$pf" != "$qf" ]; then same="count equal, alert ids differ"; fi
  rows+=("| $eos | $pr | $qr | $(awk -v a="$pr" -v b="$qr" 'BEGIN { printf "%.2f", a / b }')× | $pa | $qa | $same |")
done

echo
echo "broker: $broker; $(load)"
echo "| exactly_once | peakend events/s | peer events/s | peakend / peer | peakend alerts | peer alerts | same alerts |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
[ "$status" = 0 ] || echo "bench-peer: peakend and the peer raised different numbers of alerts" >&2
exit "$status"
