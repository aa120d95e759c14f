package hotspots

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/partitioner"
)

// The live path (docs/hotspots.md, "Live: across partitions and
// instances"): every record of the internal hotspots topic is a Msg. Each
// source partition's cycle sends every partition of the topic a Partial
// (Split: the cells of the keys that partition owns, the totals of every
// key, its watermark); the owner of a partition folds them into its
// Aggregator. An owner's hotspot alerts go out as State messages to every
// partition, whose View lets customer alerts carry the hotspot_id.

// Msg is one record of the hotspots topic: a Partial or a State.
type Msg struct {
	Partial *Partial `json:"partial,omitempty"`
	State   *State   `json:"state,omitempty"`
}

// State is an owner's news of one hotspot: it opened (or escalated), or
// closed.
type State struct {
	Key    string `json:"key"`
	ID     string `json:"id"`
	Start  int64  `json:"start"` // the window start of the alert, unix ns
	Closed bool   `json:"closed,omitempty"`
}

// Encode is the record value of m.
func (m *Msg) Encode() ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("hotspots: encode: %w", err)
	}
	return b, nil
}

// DecodeMsg decodes a record value of the hotspots topic.
func DecodeMsg(b []byte) (*Msg, error) {
	var m Msg
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("hotspots: decode: %w", err)
	}
	if (m.Partial == nil) == (m.State == nil) {
		return nil, fmt.Errorf("hotspots: decode: a record holds neither a partial nor a state")
	}
	return &m, nil
}

// Owner is the partition of the hotspots topic, of n, that owns key:
// murmur2 of the key, as Kafka's default partitioner places a keyed record.
func Owner(key string, n int) int32 { return partitioner.Murmur2([]byte(key), n) }

// Split makes the n live partials of p, one per partition of the hotspots
// topic: partition q's holds the cells of the keys q owns, and every one
// holds the totals of all cells, p's watermark and p.Base (the source's
// cycle). Rules are looked up by name for the keys.
func Split(p *Partial, rules []*Rule, n int) []*Partial {
	out := make([]*Partial, n)
	for q := range out {
		out[q] = &Partial{Source: p.Source, Watermark: p.Watermark, Live: true, Sources: int32(n), Base: p.Base}
	}
	type tk struct {
		rule string
		step int64
	}
	totals := map[tk]*Total{}
	for _, c := range p.Cells {
		i := slices.IndexFunc(rules, func(r *Rule) bool { return r.Name == c.Rule })
		if i < 0 {
			continue
		}
		q := Owner(rules[i].Key(c.Values), n)
		out[q].Cells = append(out[q].Cells, c)
		k := tk{c.Rule, c.Step}
		t := totals[k]
		if t == nil {
			t = &Total{Rule: c.Rule, Step: c.Step}
			totals[k] = t
		}
		t.Events += c.Events
		t.Bad += c.Bad
	}
	keys := slices.SortedFunc(maps.Keys(totals), func(a, b tk) int {
		if a.rule != b.rule {
			if a.rule < b.rule {
				return -1
			}
			return 1
		}
		return int(min(max(a.step-b.step, -1), 1))
	})
	for _, k := range keys {
		for _, o := range out {
			o.Totals = append(o.Totals, *totals[k])
		}
	}
	return out
}

// StateOf is the news an owner sends of a hotspot alert.
func StateOf(a *alerts.Alert) *State {
	h := a.Hotspot
	return &State{Key: h.Key, ID: a.HotspotID, Start: h.WindowStart.UnixNano(), Closed: h.State == alerts.HotspotClosed}
}

// View is one partition's knowledge of the open hotspots, from the State
// messages of every owner: the Lookup of its Counter. Owned by the
// partition's goroutine.
type View struct {
	Open map[string]State `json:"open"` // by key
}

// NewView returns an empty view.
func NewView() *View { return &View{Open: map[string]State{}} }

// Apply takes one State in. An escalation of a hotspot already open keeps
// its opening start.
func (v *View) Apply(s *State) {
	if s.Closed {
		if o, ok := v.Open[s.Key]; ok && o.ID == s.ID {
			delete(v.Open, s.Key)
		}
		return
	}
	if o, ok := v.Open[s.Key]; ok && o.ID == s.ID {
		return
	}
	v.Open[s.Key] = *s
}

// OpenHotspot implements Lookup.
func (v *View) OpenHotspot(key string, t int64) (string, bool) {
	if s, ok := v.Open[key]; ok && s.Start <= t {
		return s.ID, true
	}
	return "", false
}

// Encode is the view as stored (deterministic).
func (v *View) Encode() ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("hotspots: encode view: %w", err)
	}
	return b, nil
}

// DecodeView decodes a stored view; nil or empty bytes give an empty view.
func DecodeView(b []byte) (*View, error) {
	v := NewView()
	if len(b) == 0 {
		return v, nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return nil, fmt.Errorf("hotspots: decode view: %w", err)
	}
	if v.Open == nil {
		v.Open = map[string]State{}
	}
	return v, nil
}
