package engine_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/engine"
	"github.com/peakend/peakend/internal/golden"
	"github.com/peakend/peakend/state"
)

// TestGolden runs each testdata/*.in file through one partition: a YAML
// config (detectors, events, state, alerting), a line "---", then records
// in arrival order (JSONL; "# ..." comments; "commit" ends a cycle; "drain"
// is the end of the input; "reopen" closes and reopens the store). Each
// record prints its event time, the watermark after it and whether it was
// late; each alert prints under the record that fired it; "view CUST"
// prints the customer's journeys as /customers/{id} shows them; "timers"
// prints the partition's stored timers; "unpark_chunk N" sets how many
// parked journeys one event unparks. Run
// `go test ./engine -run Golden -rewrite` after an intended change.
func TestGolden(t *testing.T) { golden.Run(t, "engine", runGolden) }

func runGolden(t *testing.T, path string) []byte {
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	head, body, ok := bytes.Cut(raw, []byte("\n---\n"))
	require.True(t, ok, "%s: want a config, ---, then records", path)
	cfg := config.Default()
	cfg.Detectors = nil
	require.NoError(t, yaml.Unmarshal(head, cfg))
	cfg.ApplyDefaults()
	require.NoError(t, cfg.Validate())
	fs := vfs.NewMem()
	h := newHarness(t, cfg, memStore(t, fs))
	var out bytes.Buffer
	ts := func(x time.Time) string { return x.UTC().Format("01-02T15:04") }
	alerts := func() {
		o := h.pt.Output().Alerts
		for _, a := range o[h.seen:] {
			fmt.Fprintf(&out, "    -> %s %s %s event=%s detected=%s %q\n", a.Detector, a.Severity, a.CustomerID,
				ts(a.EventTime), ts(a.DetectedAt), a.Reason)
		}
		h.seen = len(o)
	}
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
			continue
		case line == "commit":
			h.commit()
			h.seen = 0
			continue
		case line == "drain":
			require.NoError(t, h.pt.Drain())
			fmt.Fprintf(&out, "drain wm=%s\n", wmString(h))
			alerts()
			continue
		case strings.HasPrefix(line, "view "):
			h.commit()
			h.seen = 0
			v, ok := h.view(strings.TrimPrefix(line, "view "))
			require.True(t, ok, line)
			if len(v.Journeys) == 0 {
				fmt.Fprintf(&out, "view %s: no journeys\n", v.CustomerID)
			}
			for _, j := range v.Journeys {
				fmt.Fprintf(&out, "view %s: %s %s %s", v.CustomerID, j.Detector, j.Key, j.Status)
				for _, x := range []struct {
					name string
					t    *time.Time
				}{{"due", j.Due}, {"alerted", j.Alerted}, {"arrived", j.Arrived}} {
					if x.t != nil {
						fmt.Fprintf(&out, " %s=%s", x.name, ts(*x.t))
					}
				}
				fmt.Fprintln(&out)
			}
			continue
		case strings.HasPrefix(line, "unpark_chunk "):
			n, err := strconv.Atoi(strings.TrimPrefix(line, "unpark_chunk "))
			require.NoError(t, err, line)
			t.Cleanup(engine.SetUnparkChunk(n))
			continue
		case line == "timers":
			h.commit()
			h.seen = 0
			n := 0
			require.NoError(t, h.store.PendingTimers(0, func(tm state.Timer) bool {
				due := "parked"
				if tm.Due != state.Parked {
					due = "due=" + ts(time.Unix(0, tm.Due))
				}
				fmt.Fprintf(&out, "timer %s: %s %s %s\n", tm.Customer, tm.Detector, tm.Key, due)
				n++
				return true
			}))
			fmt.Fprintf(&out, "timers: %d\n", n)
			continue
		case line == "reopen":
			h.commit()
			h.seen = 0
			h.close()
			h.open()
			fmt.Fprintf(&out, "reopen wm=%s\n", wmString(h))
			continue
		}
		_, _, _, late0 := h.pt.Stats()
		h.send(line)
		_, _, _, late1 := h.pt.Stats()
		var m struct {
			Customer string `json:"customer_id"`
			Time     string `json:"time"`
			Journey  string `json:"journey"`
			Outcome  string `json:"outcome"`
		}
		require.NoError(t, json.Unmarshal([]byte(line), &m), line)
		et, err := time.Parse(time.RFC3339, m.Time)
		require.NoError(t, err)
		lateMark := ""
		if late1 > late0 {
			lateMark = " LATE"
		}
		fmt.Fprintf(&out, "%s %s %s/%s wm=%s%s\n", ts(et), m.Customer, m.Journey, m.Outcome, wmString(h), lateMark)
		alerts()
	}
	require.NoError(t, sc.Err())
	h.commit()
	return out.Bytes()
}

func wmString(h *harness) string {
	wm, ok := h.pt.Watermark()
	if !ok {
		return "none"
	}
	return wm.Format("01-02T15:04")
}
