package event

import (
	"encoding/json"
	"testing"
	"time"
)

// benchEvents are the events both benchmarks decode, in the same order.
var benchEvents = SampleEvents(4096, 1)

func avgBytes(events [][]byte) int64 {
	n := 0
	for _, b := range events {
		n += len(b)
	}
	return int64(n / len(events))
}

func reportEvents(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkDecodeFast measures Decoder.Decode into a reused Event.
func BenchmarkDecodeFast(b *testing.B) {
	d := NewDecoder(0, nil)
	var ev Event
	b.SetBytes(avgBytes(benchEvents))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := d.Decode(benchEvents[i%len(benchEvents)], &ev); err != nil {
			b.Fatal(err)
		}
	}
	reportEvents(b)
}

// stdEvent is the experience event as encoding/json would decode it: the
// floor the README compares against.
type stdEvent struct {
	EventID    string             `json:"event_id"`
	CustomerID string             `json:"customer_id"`
	Time       time.Time          `json:"time"`
	Journey    string             `json:"journey"`
	Outcome    string             `json:"outcome"`
	Metrics    map[string]float64 `json:"metrics"`
	Attributes map[string]string  `json:"attributes"`
	Customer   struct {
		Tier  string   `json:"tier"`
		Value *float64 `json:"value"`
	} `json:"customer"`
}

// BenchmarkDecodeStdlib measures encoding/json into stdEvent.
func BenchmarkDecodeStdlib(b *testing.B) {
	b.SetBytes(avgBytes(benchEvents))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		var ev stdEvent
		if err := json.Unmarshal(benchEvents[i%len(benchEvents)], &ev); err != nil {
			b.Fatal(err)
		}
	}
	reportEvents(b)
}
