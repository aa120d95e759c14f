package demo

import (
	"hash/fnv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/engine"
	"github.com/peakend/peakend/state"
)

// simulation is the demo's traffic (history burst, then live ticks) run
// through the demo's configuration and the real engine, in process, on a
// simulated clock: what `peakend demo` prints, minutes of it in a second.
type simulation struct {
	start time.Time
	warm  []*alerts.Alert // fired by the history, before the first live tick
	live  []*alerts.Alert
	bad   []Bad // the planted bad experiences (Generator.OnBad)
	seen  map[string]bool
}

// simulate runs o's demo traffic for run, from start.
func simulate(t *testing.T, o Options, run time.Duration) *simulation {
	t.Helper()
	cfg := demoConfig()
	cfg.State.Dir = t.TempDir()
	require.NoError(t, cfg.Validate())
	store, err := state.Open(state.Options{Dir: cfg.State.Dir})
	require.NoError(t, err)
	defer store.Close()
	eng, err := engine.New(cfg, store, engine.Options{Live: true})
	require.NoError(t, err)
	parts := make([]*engine.Partition, cfg.Kafka.Partitions)
	offsets := make([]int64, len(parts))
	for i := range parts {
		parts[i], err = eng.OpenPartition(int32(i))
		require.NoError(t, err)
		defer parts[i].Close()
	}

	// The simulated clock: records are fetched 10 ms after they are made,
	// and every partition commits once a second.
	s := &simulation{start: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), seen: map[string]bool{}}
	send := func(k, v []byte, fetched time.Time) {
		h := fnv.New32a()
		h.Write(k)
		i := h.Sum32() % uint32(len(parts))
		r := &engine.Record{Topic: cfg.Kafka.Topics.Experiences, Partition: int32(i), Offset: offsets[i], Key: k, Value: v,
			Fetched: fetched}
		offsets[i]++
		require.NoError(t, parts[i].Experience(r))
	}
	commit := func(now time.Time, to *[]*alerts.Alert) {
		for _, p := range parts {
			_, err := p.Tick(now)
			require.NoError(t, err)
			require.NoError(t, p.Stage())
			*to = append(*to, p.Output().Alerts...)
			require.NoError(t, p.Commit(false))
		}
	}

	g := newGenerator(o)
	g.OnBad = func(b Bad) { s.bad = append(s.bad, b) }
	warmUp(g, s.start, cfg.Kafka.Partitions, func(k, v []byte) { send(k, v, s.start.Add(10*time.Millisecond)) })
	commit(s.start.Add(10*time.Millisecond), &s.warm)
	const tick = 50 * time.Millisecond
	perTick := max(1, o.Rate/20)
	for at := s.start.Add(tick); at.Before(s.start.Add(run)); at = at.Add(tick) {
		for range perTick {
			k, v := g.Next(at)
			s.seen[string(k)] = true
			send(k, v, at.Add(10*time.Millisecond))
		}
		if at.Sub(s.start)%time.Second == 0 {
			commit(at.Add(10*time.Millisecond), &s.live)
		}
	}
	return s
}
