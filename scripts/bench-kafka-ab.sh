#!/usr/bin/env bash
# A/B comparison of peakend builds end to end on one real Kafka broker
# (README, "End to end on a real broker"). The machine is shared and noisy,
# so phases of the builds are interleaved (A B A B ...) and medians are
# compared within one run of this script, never across runs.
#
#   scripts/bench-kafka-ab.sh BROKERS REPS BIN...
#
# BIN: peakend-bench binaries built from the revisions to compare (go build -o
# /tmp/kb-X ./cmd/peakend-bench at each revision). Each phase: 400,000
# events (PEAKEND_BENCH_EVENTS), full load, and half load at 50,000 events/s
# offered (PEAKEND_BENCH_HALF_RATE; the goal's half load), exactly_once off
# and on (PEAKEND_BENCH_EXACTLY_ONCE="off on"). Prints the median events/s, p50 and p99 per build and phase,
# the worst p99, and that worst run's cycle stages (p50 / p99 of each: where its outliers came from).
set -euo pipefail
brokers=$1 reps=$2
shift 2
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for ((i = 1; i <= reps; i++)); do
  for load in full half; do
    for eos in ${PEAKEND_BENCH_EXACTLY_ONCE:-off on}; do
      for bin in "$@"; do
        "$bin" -brokers "$brokers" -events "${PEAKEND_BENCH_EVENTS:-400000}" -exactly-once "$eos" -loads "$load" \
          -half-rate "${PEAKEND_BENCH_HALF_RATE:-50000}" -restore-customers 0 |
          awk '/^\| o/ && !done { row = $0; getline st; sub(/^ +cycle stages \(p50 \/ p99, cycles\): /, "", st); print row " " st; done = 1 }' |
          sed "s#^#$(basename "$bin") $load #" >>"$out"
      done
    done
  done
done
# row: BIN LOAD | eos | load... | rate | p50 | p99 | ...
awk -F'|' '
function ms(v) { gsub(/ /, "", v); if (v ~ /ms$/) return v + 0; if (v ~ /µs$/) return (v + 0) / 1000; return (v + 0) * 1000 }
{ split($1, h, " "); k = h[1] " eos=" $2 " " h[2]; gsub(/  +/, " ", k)
  n[k]++; rate[k, n[k]] = $4 + 0; p50[k, n[k]] = ms($5); p99[k, n[k]] = ms($6)
  if (n[k] == 1 || ms($6) > worst[k]) { worst[k] = ms($6); stages[k] = $11 } }
function med(a, k, c,   i, j, t, v) { for (i = 1; i <= c; i++) v[i] = a[k, i]
  for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
  return c % 2 ? v[(c + 1) / 2] : (v[c / 2] + v[c / 2 + 1]) / 2 }
END { for (k in n) printf "%-36s n=%d  events/s %7.0f  p50 %7.1f ms  p99 %7.1f ms  worst p99 %7.1f ms  (its stages:%s)\n",
  k, n[k], med(rate, k, n[k]), med(p50, k, n[k]), med(p99, k, n[k]), worst[k], stages[k] }' "$out" | sort -k2,2 -k3,3 -k1,1
