package stream

import (
	"encoding/json"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/engine"
)

// DLQ headers (docs/reference.md, "Topics").
const (
	HeaderError  = "peakend-error"
	HeaderSource = "peakend-source"
)

// AlertRecord is the alerts-topic record of a: key customer_id (a hotspot
// alert's: its hotspot key), value JSON.
func AlertRecord(topic string, a *alerts.Alert) (*kgo.Record, error) {
	b, err := json.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("stream: encode alert %s: %w", a.AlertID, err)
	}
	key := a.CustomerID
	if a.Hotspot != nil && a.Hotspot.Key != "" {
		key = a.Hotspot.Key
	}
	return &kgo.Record{Topic: topic, Key: []byte(key), Value: b,
		Headers: []kgo.RecordHeader{{Key: "peakend-alert-id", Value: []byte(a.AlertID)}}}, nil
}

// DeadRecord is the DLQ record of d: the original key and bytes, with the
// reason and source in headers.
func DeadRecord(topic string, d *engine.Dead) *kgo.Record {
	return &kgo.Record{Topic: topic, Key: d.Record.Key, Value: d.Record.Value, Headers: []kgo.RecordHeader{
		{Key: HeaderError, Value: []byte(d.Reason)},
		{Key: HeaderSource, Value: []byte(d.Record.Source())},
	}}
}
