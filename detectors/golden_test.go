package detectors_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/detectors"
	"github.com/peakend/peakend/event"
	"github.com/peakend/peakend/internal/golden"
	"github.com/peakend/peakend/state"
)

// TestGolden runs each testdata/*.in file: a YAML detector list, a line
// "---", then events (JSONL; "# ..." lines are comments). Every event's
// findings, one per detector that fired, are compared with the .golden file
// beside it. Run `go test ./detectors -rewrite` after an intended change
// and read the diff.
func TestGolden(t *testing.T) { golden.Run(t, "detectors", runGolden) }

func runGolden(t *testing.T, path string) []byte {
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	head, body, ok := bytes.Cut(raw, []byte("\n---\n"))
	require.True(t, ok, "%s: want a detector list, ---, then events", path)
	var cfg config.Config
	require.NoError(t, yaml.Unmarshal(head, &cfg.Detectors))
	cfg.ApplyDefaults()
	dets, err := detectors.New(&cfg)
	require.NoError(t, err)
	pops := make([]*detectors.Population, len(dets))
	for i, d := range dets {
		if over := d.Population(); over > 0 {
			q := 0.0
			if tq, ok := d.(detectors.TailQuantiler); ok {
				q = tq.TailQuantile()
			}
			pops[i] = detectors.NewPopulation(d.Name(), over, q)
		}
	}
	customers := map[string]*state.Customer{}
	dec := event.NewDecoder(0, nil)
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		// "spread N LO HI <json with $V>" feeds N events a second apart whose
		// $V runs over LO..HI in a shuffled order (a population warm-up).
		n, lo, hi := 1, 0.0, 0.0
		if rest, ok := strings.CutPrefix(line, "spread "); ok {
			var js string
			_, err := fmt.Sscan(rest, &n, &lo, &hi)
			require.NoError(t, err, line)
			_, js, _ = strings.Cut(rest[strings.Index(rest, "{")-1:], " ")
			line = js
		}
		for i := range n {
			src := line
			if n > 1 {
				v := lo + (hi-lo)*float64((i*7919)%n)/float64(n-1)
				src = strings.ReplaceAll(line, "$V", fmt.Sprintf("%.3f", v))
			}
			var ev event.Event
			require.NoError(t, dec.Decode([]byte(src), &ev), src)
			ev.Time += int64(i) * int64(time.Second)
			c := customers[ev.CustomerID]
			if c == nil {
				c = &state.Customer{ID: ev.CustomerID}
				customers[ev.CustomerID] = c
			}
			var fired []string
			for j, d := range dets {
				if f, ok := d.Detect(&ev, c, pops[j]); ok {
					fired = append(fired, fmt.Sprintf("%s %s %.4f %q", f.Detector, f.Severity, f.Score, f.Reason))
				}
			}
			c.Seq++
			for j, d := range dets {
				d.Learn(&ev, c, pops[j])
			}
			if n > 1 && len(fired) == 0 {
				continue // warm-up noise stays out of the golden file
			}
			ts := time.Unix(0, ev.Time).UTC().Format(time.RFC3339)
			if len(fired) == 0 {
				fmt.Fprintf(&out, "%s %s %s -\n", ts, ev.CustomerID, ev.Journey)
			}
			for _, f := range fired {
				fmt.Fprintf(&out, "%s %s %s -> %s\n", ts, ev.CustomerID, ev.Journey, f)
			}
		}
	}
	require.NoError(t, sc.Err())
	return out.Bytes()
}
