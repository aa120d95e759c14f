#!/usr/bin/env bash
# The tune benchmark (docs/performance.md, "Tune"): `peakend tune` over
# 1,000,000 demo events with a grid of 20 settings, against ONE `peakend
# replay` of the same events and configuration. Prints both times (wall
# and CPU) and their ratio; the goal is a ratio under 4. Nothing here fails
# on wall-clock.
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${PEAKEND_BENCH_EVENTS:-1000000}
SETTINGS=${PEAKEND_BENCH_SETTINGS:-20}
work=${PEAKEND_BENCH_DIR:-$(mktemp -d /tmp/peakend-bench-tune.XXXXXX)}
trap 'rm -rf "$work"' EXIT
go build -o "$work/peakend" ./cmd/peakend
cfg=examples/replay.yaml
echo "== generating $EVENTS events and their complaints"
"$work/peakend" demo --emit "$EVENTS" --complaints "$work/complaints.jsonl" > "$work/events.jsonl"
TIMEFORMAT='%R %U %S'
echo "== one replay"
{ time "$work/peakend" replay --config "$cfg" --input "$work/events.jsonl" --complaints "$work/complaints.jsonl" \
    --out /dev/null 2> "$work/replay.err"; } 2> "$work/replay.time"
cat "$work/replay.err" "$work/replay.time"
echo "== tune, $SETTINGS settings"
{ time "$work/peakend" tune --config "$cfg" --input "$work/events.jsonl" --complaints "$work/complaints.jsonl" \
    --capacity 150 --max-settings "$SETTINGS" > "$work/tune.out" 2> "$work/tune.err"; } 2> "$work/tune.time"
cat "$work/tune.out"
tail -1 "$work/tune.err"
cat "$work/tune.time"
read -r rw ru rs < "$work/replay.time"
read -r tw tu ts < "$work/tune.time"
awk -v rw="$rw" -v ru="$ru" -v rs="$rs" -v tw="$tw" -v tu="$tu" -v ts="$ts" -v n="$SETTINGS" -v p="$(nproc)" 'BEGIN {
  printf "== replay: %.1fs wall, %.1fs CPU; tune (%d settings, %d cores): %.1fs wall, %.1fs CPU\n", rw, ru + rs, n, p, tw, tu + ts
  printf "== tune / one replay: %.2fx wall (goal: under 4), %.2fx CPU\n", tw / rw, (tu + ts) / (ru + rs)
}'
