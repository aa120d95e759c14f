package event

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"testing"
	"time"
)

// TestDecodeFloorFile measures the floor of `make bench`: how fast the same
// JSONL input is merely decoded, by encoding/json and by our Decoder. It
// runs only with PEAKEND_FLOOR_INPUT set (scripts/bench-replay.sh sets it).
func TestDecodeFloorFile(t *testing.T) {
	path := os.Getenv("PEAKEND_FLOOR_INPUT")
	if path == "" {
		t.Skip("set PEAKEND_FLOOR_INPUT to a JSONL file")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, append([]byte(nil), sc.Bytes()...))
	}
	start := time.Now()
	for _, l := range lines {
		var ev stdEvent
		_ = json.Unmarshal(l, &ev) // bad lines cost what they cost
	}
	std := float64(len(lines)) / time.Since(start).Seconds()
	d := NewDecoder(0, nil)
	var ev Event
	start = time.Now()
	for _, l := range lines {
		_ = d.Decode(l, &ev)
	}
	fast := float64(len(lines)) / time.Since(start).Seconds()
	t.Logf("FLOOR encoding/json %.0f events/s", std)
	t.Logf("FAST  peakend decoder %.0f events/s", fast)
}
