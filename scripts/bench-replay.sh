#!/usr/bin/env bash
# The replay benchmark of `make bench`: throughput with 1,000,000 distinct
# customers already in state, allocations per event and peak RSS, against
# the floor of merely decoding the same input with encoding/json (v1, of
# the Go toolchain printed first).
#
# The input is the demo's mixed traffic with order journeys (promised,
# shipped, delivered: timers armed, cancelled and fired), judged by every
# detector kind (scripts/bench.yaml). Until 2026-12-03 it had no orders
# (--orders=false) and no timed detectors: figures from before are not
# comparable.
#
# The replay and the floor alternate PEAKEND_BENCH_ROUNDS times (default 3),
# each replay on a fresh copy of the filled state, and the median ratio is
# reported: on a shared VM one run of either can be 2x off.
# Figures go to stdout; nothing here fails on wall-clock.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${PEAKEND_BENCH_CUSTOMERS:-1000000}
EVENTS=${PEAKEND_BENCH_EVENTS:-1000000}
ROUNDS=${PEAKEND_BENCH_ROUNDS:-3}
work=${PEAKEND_BENCH_DIR:-$(mktemp -d /tmp/peakend-bench.XXXXXX)}
trap 'rm -rf "$work"' EXIT
go build -o "$work/peakend" ./cmd/peakend
go test -c -o "$work/event.test" ./event/
cfg=scripts/bench.yaml
echo "== $(go version); load: $(uptime)"
echo "== generating $N-customer state fill and $EVENTS events"
"$work/peakend" demo --emit "$N" --customers "$N" --sequential --every 1s --start 2026-01-01T00:00:00Z > "$work/fill.jsonl"
"$work/peakend" demo --emit "$EVENTS" --customers "$N" --seed 2 --every 1s --start 2026-01-13T00:00:00Z > "$work/run.jsonl"
echo "== filling state with $N customers"
"$work/peakend" replay --config "$cfg" --input "$work/fill.jsonl" --state "$work/filled" --out /dev/null
ratios=()
for round in $(seq 1 "$ROUNDS"); do
  echo "== round $round of $ROUNDS: load: $(uptime)"
  echo "== round $round of $ROUNDS: replay of $EVENTS events over $N customers in state"
  rm -rf "$work/state"
  cp -a "$work/filled" "$work/state"
  "$work/peakend" replay --config "$cfg" --input "$work/run.jsonl" --state "$work/state" --out /dev/null 2> "$work/replay.txt"
  cat "$work/replay.txt"
  echo "== round $round of $ROUNDS: floor, decoding the same input"
  PEAKEND_FLOOR_INPUT="$work/run.jsonl" "$work/event.test" -test.count=1 -test.run TestDecodeFloorFile -test.v | grep -E 'FLOOR|FAST' | tee "$work/floor.txt"
  replay=$(sed -n 's/.*(\([0-9]*\) events\/s.*/\1/p' "$work/replay.txt" | head -1)
  floor=$(sed -n 's/.*FLOOR encoding\/json \([0-9]*\) events\/s/\1/p' "$work/floor.txt")
  ratios+=("$(awk -v r="$replay" -v f="$floor" 'BEGIN { printf "%.2f", r / f }')")
  echo "== round $round: replay / encoding-json floor = ${ratios[-1]}"
done
median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
echo "== replay / encoding-json floor: rounds ${ratios[*]}; median $median (goal: at least 1.0)"
