#!/usr/bin/env bash
# Cost as state grows (issue 15, goal 5): for each size N of
# PEAKEND_BENCH_SIZES (default 1M 3M 10M customers),
#   1. fill: replay N events over N new customers (`demo --emit N
#      --customers N --sequential`: one delivery, call, checkout or playback
#      each, ids cust-000000…), with the benchmark config: events/s, peak RSS;
#   2. size: compact the whole state and count bytes of tables per customer
#      (an idle customer: one experience, its header, its activity entry);
#   3. update: replay the same mixed traffic with order journeys
#      (PEAKEND_BENCH_EVENTS, default 1M events, `--seed 2`) over the N
#      customers now in state: events/s, peak RSS.
# Replay and the fill stream from the file; the state lives on this disk.
# Figures go to stdout, each with the load beside it; nothing fails on
# wall-clock.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${PEAKEND_BENCH_SIZES:-1000000 3000000 10000000}
EVENTS=${PEAKEND_BENCH_EVENTS:-1000000}
work=${PEAKEND_BENCH_DIR:-$(mktemp -d /tmp/peakend-growth.XXXXXX)}
trap 'rm -rf "$work"' EXIT
go build -o "$work/peakend" ./cmd/peakend
go test -c -o "$work/state.test" ./state/
cfg=scripts/bench.yaml
echo "== $(go version)"
timed() { # label, command...: the replay's own line, and wall, CPU and peak RSS
  local label=$1
  shift
  echo "== $label; load: $(cut -d' ' -f1-3 /proc/loadavg)"
  /usr/bin/time -f "   wall %e s, CPU %U user + %S sys s, peak RSS %M KiB" "$@" 2>&1 | grep -E "events/s|wall"
}
for n in $SIZES; do
  rm -rf "$work/state"
  "$work/peakend" demo --emit "$n" --customers "$n" --sequential --every 1s --start 2026-01-01T00:00:00Z > "$work/fill.jsonl"
  timed "N=$n fill: $n new customers" "$work/peakend" replay --config "$cfg" --input "$work/fill.jsonl" --state "$work/state" --out /dev/null
  rm -f "$work/fill.jsonl"
  cp -a "$work/state" "$work/sized"
  echo "== N=$n size after compaction; load: $(cut -d' ' -f1-3 /proc/loadavg)"
  PEAKEND_STATE_DIR="$work/sized" "$work/state.test" -test.run TestStateSizeDir -test.v | grep -E 'KIND|SIZE'
  rm -rf "$work/sized"
  "$work/peakend" demo --emit "$EVENTS" --customers "$n" --seed 2 --every 1s --start 2026-01-13T00:00:00Z > "$work/run.jsonl"
  timed "N=$n update: $EVENTS mixed events with orders over $n customers in state" "$work/peakend" replay --config "$cfg" --input "$work/run.jsonl" --state "$work/state" --out /dev/null
  rm -f "$work/run.jsonl"
done
