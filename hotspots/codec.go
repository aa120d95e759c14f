package hotspots

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/peakend/peakend/alerts"
)

// snapshot is the Aggregator's state as stored. Rules are named, so a state
// outlives a configuration change: counts of rules no longer configured are
// dropped on Decode.
type snapshot struct {
	Version    int                 `json:"v"`
	Watermarks map[int32]int64     `json:"watermarks"`
	Rules      map[string]ruleSnap `json:"rules"`
	Sources    int                 `json:"sources,omitempty"`
	Last       map[int32]*Partial  `json:"last,omitempty"`
}

type ruleSnap struct {
	Next    int64                 `json:"next"`
	Decided bool                  `json:"decided,omitempty"`
	Total   map[int64]countsSnap  `json:"total"`
	Keys    map[string]seriesSnap `json:"keys,omitempty"`
}

type seriesSnap struct {
	Values []string             `json:"values"`
	Steps  map[int64]countsSnap `json:"steps"`
	Hot    *episodeSnap         `json:"hot,omitempty"`
}

type countsSnap struct {
	Events    int64    `json:"e"`
	Bad       int64    `json:"b"`
	Customers []uint64 `json:"c,omitempty"`
	Alerted   []string `json:"a,omitempty"`
}

type episodeSnap struct {
	ID       string  `json:"id"`
	Start    int64   `json:"start"`
	Severity string  `json:"severity"`
	Usual    float64 `json:"usual"`
}

// Encode returns the aggregator's state: counts, source watermarks and open
// hotspots. The encoding is deterministic (the same state, the same bytes).
func (a *Aggregator) Encode() ([]byte, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := snapshot{Version: 1, Watermarks: a.wm, Rules: map[string]ruleSnap{}, Sources: a.sources, Last: a.last}
	for ri, r := range a.rules {
		st := a.rs[ri]
		rs := ruleSnap{Next: st.next, Decided: st.decided, Total: map[int64]countsSnap{}, Keys: map[string]seriesSnap{}}
		for step, x := range st.total {
			rs.Total[step] = x.snap()
		}
		for key, se := range st.keys {
			rs.Keys[key] = se.snap()
		}
		s.Rules[r.Name] = rs
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("hotspots: encode: %w", err)
	}
	return b, nil
}

func (x *counts) snap() countsSnap {
	return countsSnap{Events: x.events, Bad: x.bad, Customers: x.customers, Alerted: x.alerted}
}

// Decode replaces the aggregator's state with one Encode returned.
func (a *Aggregator) Decode(b []byte) error {
	var s snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("hotspots: decode: %w", err)
	}
	if s.Version != 1 {
		return fmt.Errorf("hotspots: decode: unknown version %d", s.Version)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.wm = map[int32]int64{}
	for src, w := range s.Watermarks {
		a.wm[src] = w
	}
	a.last = map[int32]*Partial{}
	for src, p := range s.Last {
		a.last[src] = p
	}
	a.sources = max(a.sources, s.Sources)
	for ri, r := range a.rules {
		st := &ruleState{keys: map[string]*series{}, total: map[int64]*counts{}}
		a.rs[ri] = st
		rs, ok := s.Rules[r.Name]
		if !ok {
			continue
		}
		st.next, st.decided = rs.Next, rs.Decided
		for step, x := range rs.Total {
			st.total[step] = x.counts()
		}
		for key, ss := range rs.Keys {
			if err := st.load(r, key, &ss); err != nil {
				return err
			}
		}
	}
	clear(a.dirty)
	return nil
}

// load puts one key's stored series in.
func (st *ruleState) load(r *Rule, key string, ss *seriesSnap) error {
	if len(ss.Values) != len(r.By) || r.Key(ss.Values) != key {
		return nil // the rule's `by` changed: these counts mean something else
	}
	se := &series{values: ss.Values, steps: map[int64]*counts{}}
	for step, x := range ss.Steps {
		se.steps[step] = x.counts()
	}
	if ep := ss.Hot; ep != nil {
		sev, err := alerts.ParseSeverity(ep.Severity)
		if err != nil {
			return fmt.Errorf("hotspots: decode: %w", err)
		}
		se.hot = &episode{id: ep.ID, start: ep.Start, severity: sev, usual: ep.Usual}
	}
	st.keys[key] = se
	return nil
}

func (se *series) snap() seriesSnap {
	ss := seriesSnap{Values: se.values, Steps: map[int64]countsSnap{}}
	for step, x := range se.steps {
		ss.Steps[step] = x.snap()
	}
	if ep := se.hot; ep != nil {
		ss.Hot = &episodeSnap{ID: ep.id, Start: ep.start, Severity: ep.severity.String(), Usual: ep.usual}
	}
	return ss
}

// Changes stores the aggregator incrementally, as the live owner keeps it
// in Pebble: put is called, in order, for each part changed since the
// last Changes — a key's own part (values and open episode; part name
// key+"\x00") and each step of its counts (key+"\x00"+the step, 8 bytes
// big-endian, sign-flipped), nil for a part forgotten — then with part ""
// for the rest (watermarks, totals, the sources' last partials). Load
// reads them back. A cycle so writes the steps it touched, not the
// window and baseline of every key.
func (a *Aggregator) Changes(put func(part string, v []byte) error) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, key := range slices.Sorted(maps.Keys(a.dirty)) {
		d, se := a.dirty[key], a.series(key)
		if d.meta {
			var v []byte
			if se != nil {
				b, err := json.Marshal(seriesSnap{Values: se.values, Hot: se.snap().Hot})
				if err != nil {
					return fmt.Errorf("hotspots: encode: %w", err)
				}
				v = b
			}
			if err := put(key+"\x00", v); err != nil {
				return err
			}
		}
		for _, step := range slices.Sorted(maps.Keys(d.steps)) {
			var v []byte
			if se != nil {
				if x := se.steps[step]; x != nil {
					b, err := json.Marshal(x.snap())
					if err != nil {
						return fmt.Errorf("hotspots: encode: %w", err)
					}
					v = b
				}
			}
			if err := put(stepPart(key, step), v); err != nil {
				return err
			}
		}
	}
	clear(a.dirty)
	s := snapshot{Version: 1, Watermarks: a.wm, Rules: map[string]ruleSnap{}, Sources: a.sources, Last: a.last}
	for ri, r := range a.rules {
		st := a.rs[ri]
		rs := ruleSnap{Next: st.next, Decided: st.decided, Total: map[int64]countsSnap{}}
		for step, x := range st.total {
			rs.Total[step] = x.snap()
		}
		s.Rules[r.Name] = rs
	}
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("hotspots: encode: %w", err)
	}
	return put("", b)
}

func stepPart(key string, step int64) string {
	return key + "\x00" + string(binary.BigEndian.AppendUint64(nil, uint64(step)^(1<<63)))
}

// series finds a key's series in its rule.
func (a *Aggregator) series(key string) *series {
	for ri, r := range a.rules {
		if strings.HasPrefix(key, "hotspot/"+r.Name+"/") {
			if se := a.rs[ri].keys[key]; se != nil {
				return se
			}
		}
	}
	return nil
}

// Load replaces the aggregator's state with what Changes stored: meta is
// the "" part (nil: nothing stored), and parts calls its function with
// every other stored part, in order (a key's own part before its steps).
func (a *Aggregator) Load(meta []byte, parts func(fn func(part string, v []byte) error) error) error {
	if meta == nil {
		return nil
	}
	if err := a.Decode(meta); err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	var cur *series // the series of the key read last
	curKey := ""
	return parts(func(part string, v []byte) error {
		key, rest, ok := strings.Cut(part, "\x00")
		if !ok {
			return fmt.Errorf("hotspots: decode: part %q", part)
		}
		if rest == "" {
			cur, curKey = nil, key
			var ss seriesSnap
			if err := json.Unmarshal(v, &ss); err != nil {
				return fmt.Errorf("hotspots: decode %s: %w", key, err)
			}
			for ri, r := range a.rules {
				if strings.HasPrefix(key, "hotspot/"+r.Name+"/") {
					if err := a.rs[ri].load(r, key, &ss); err != nil {
						return err
					}
					cur = a.rs[ri].keys[key]
				}
			}
			return nil
		}
		if cur == nil || key != curKey || len(rest) != 8 {
			return nil // a rule no longer configured, or a key changed
		}
		var x countsSnap
		if err := json.Unmarshal(v, &x); err != nil {
			return fmt.Errorf("hotspots: decode %s: %w", key, err)
		}
		cur.steps[int64(binary.BigEndian.Uint64([]byte(rest))^(1<<63))] = x.counts()
		return nil
	})
}

func (x countsSnap) counts() *counts {
	return &counts{events: x.Events, bad: x.Bad, customers: x.Customers, alerted: x.Alerted}
}
