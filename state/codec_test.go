package state_test

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/event"
	"github.com/peakend/peakend/state"
)

// fullCustomer has every ring at its limit, through the Push methods.
func fullCustomer(id string) state.Customer {
	c := state.Customer{ID: id, Seq: 1 << 40, FirstAt: -5, LastAt: math.MaxInt64, Tier: "gold", Value: 1234.5,
		Complaint: 1_700_000_000_000_000_000, WorstBad: 1, WorstAt: 42, LastBad: 0.4}
	for i := range 60 {
		c.Remember(hash(i), 50)
		c.PushSeries(state.SeriesID("delivery/delay_hours"), float64(i))
		c.PushSeries(state.SeriesID("support_call/wait_seconds"), -float64(i)/3)
		c.PushBad(state.Mark{Time: int64(i) * 1e9, Journey: "checkout", Outcome: "failed", Seq: uint64(i)})
		c.PushAlert(state.AlertRef{ID: fmt.Sprintf("a%02d", i), Detector: "late_delivery", Severity: uint8(i % 4),
			Time: int64(i), Reason: "Delivery arrived 4.2 days late — worse than 99.6% of deliveries"})
	}
	c.Cooldown = c.Alerts[len(c.Alerts)-1]
	return c
}

func hash(i int) uint64 { return uint64(i) * 0x9e3779b97f4a7c15 }

func customerCases() []struct {
	name string
	c    state.Customer
} {
	return []struct {
		name string
		c    state.Customer
	}{
		{"empty", state.Customer{ID: "c"}},
		{"no id", state.Customer{}},
		{"header only", state.Customer{ID: "cust-1", Seq: 3, FirstAt: 1, LastAt: 2, Tier: "silver", Value: 300}},
		{"negative times and extremes", state.Customer{ID: "x", Seq: math.MaxUint64, FirstAt: math.MinInt64,
			LastAt: -1, Value: math.Inf(1), WorstBad: math.SmallestNonzeroFloat64, WorstAt: math.MinInt64, LastBad: -0.5}},
		{"one of each", state.Customer{ID: "c2", Seq: 1, Recent: []uint64{math.MaxUint64},
			Series:   []state.Series{{ID: state.SeriesID("delivery/delay_hours"), Values: []float64{1.5}}},
			Bad:      []state.Mark{{Time: 7, Journey: "playback", Outcome: "dropped", Seq: 1}},
			Alerts:   []state.AlertRef{{ID: "id", Detector: "d", Severity: 3, Time: 7, Reason: "r"}},
			Cooldown: state.AlertRef{ID: "id", Detector: "d", Severity: 3, Time: 7, Reason: "r"}}},
		{"series without values", state.Customer{ID: "c3", Series: []state.Series{{ID: 7, Values: []float64{}}}}},
		{"unicode", state.Customer{ID: "Zoë-東京-🙂", Tier: "or ✨", Series: []state.Series{{ID: state.SeriesID("livraison/retard_h€"), Values: []float64{2}}},
			Bad:      []state.Mark{{Journey: "ünïcode", Outcome: "échoué"}},
			Cooldown: state.AlertRef{ID: "🙂", Reason: "Livraison arrivée 4,2 jours en retard — pire que 99,6 %"}}},
		{"full rings", fullCustomer("full")},
		{"recovered", state.Customer{ID: "r", Seq: 2, LastAt: 1_767_225_600_000_000_000, Recovered: 1_767_225_000_000_000_000}},
		{"recovered, no experience", state.Customer{ID: "r2", Recovered: 1_767_225_000_000_000_000}},
	}
}

func TestCustomerRoundTrip(t *testing.T) {
	for _, tc := range customerCases() {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.c.AppendBinary(nil)
			got := state.Customer{ID: tc.c.ID}
			require.NoError(t, got.UnmarshalBinary(b))
			require.Equal(t, tc.c, got)

			// Appending to a non-empty buffer leaves the prefix alone.
			pre := []byte("prefix")
			b2 := tc.c.AppendBinary(pre)
			require.Equal(t, "prefix", string(b2[:6]))
			require.Equal(t, b, b2[6:])

			// Decoding into a used value replaces everything but the ID.
			used := fullCustomer(tc.c.ID)
			require.NoError(t, used.UnmarshalBinary(b))
			require.Equal(t, tc.c, used)
		})
	}
}

func TestCustomerFullRingsStayBounded(t *testing.T) {
	c := fullCustomer("full")
	require.Len(t, c.Recent, 50)
	require.Len(t, c.Series, 2)
	for _, s := range c.Series {
		require.Len(t, s.Values, state.MaxSeriesValues)
	}
	require.Equal(t, float64(59), c.Series[0].Values[state.MaxSeriesValues-1], "newest last")
	require.Equal(t, float64(60-state.MaxSeriesValues), c.Series[0].Values[0], "oldest first")
	require.Len(t, c.Bad, state.MaxBadMarks)
	require.Equal(t, uint64(59), c.Bad[state.MaxBadMarks-1].Seq)
	require.Len(t, c.Alerts, state.MaxAlertRefs)
	require.Equal(t, "a59", c.Alerts[state.MaxAlertRefs-1].ID)
	require.Equal(t, "a55", c.Alerts[0].ID)
	require.True(t, c.Seen(hash(59)))
	require.False(t, c.Seen(hash(9)), "forgotten after the window")
	// The header stays small whatever the history: a few hundred bytes plus the dedup hashes.
	require.Less(t, len(c.AppendBinary(nil)), 2048)

	// A window shrunk by reconfiguration trims the dedup ring.
	c.Remember(1, 3)
	require.Len(t, c.Recent, 3)
	require.Equal(t, uint64(1), c.Recent[2])
}

// A typical customer's header (one experience, a tier and value, one
// baseline value, a real alert id) is a few dozen bytes: it is read and
// written on every event and a million of them sit in the header cache.
func TestCustomerHeaderIsSmall(t *testing.T) {
	c := state.Customer{ID: "cust-0012345", Seq: 1, FirstAt: 1_767_225_600_000_000_000, LastAt: 1_767_225_600_000_000_000,
		Tier: "silver", Value: 1200}
	c.Remember(hash(1), state.MaxRecent)
	c.PushSeries(state.SeriesID("delivery/delay_hours"), 3.5)
	require.LessOrEqual(t, len(c.AppendBinary(nil)), 56, "version 1 took 108 bytes")
	c.PushAlert(state.AlertRef{ID: "0123456789abcdef0123456789abcdef", Detector: "late_delivery", Severity: 2,
		Time: c.LastAt, Reason: "Delivery arrived 4.2 days late"})
	c.Cooldown = c.Alerts[0]
	n := len(c.AppendBinary(nil))
	require.LessOrEqual(t, n, 56+17+14+1+1+31+1, "the alert id takes 16 bytes and the cooldown one")
	got := state.Customer{ID: c.ID}
	require.NoError(t, got.UnmarshalBinary(c.AppendBinary(nil)))
	require.Equal(t, c, got)
}

// Headers written by version 1 (before the compact encoding) still load.
func TestCustomerReadsVersion1(t *testing.T) {
	for _, tc := range customerCases() {
		t.Run(tc.name, func(t *testing.T) {
			keys := map[uint32]string{state.SeriesID("delivery/delay_hours"): "delivery/delay_hours",
				state.SeriesID("support_call/wait_seconds"): "support_call/wait_seconds",
				state.SeriesID("livraison/retard_h€"):       "livraison/retard_h€"}
			if len(tc.c.Series) > 0 && keys[tc.c.Series[0].ID] == "" {
				t.Skip("a version 1 series is stored by key: this case has only an id")
			}
			if tc.c.Recovered != 0 {
				t.Skip("version 1 had no recovered time")
			}
			got := state.Customer{ID: tc.c.ID}
			require.NoError(t, got.UnmarshalBinary(appendV1(&tc.c, keys)))
			require.Equal(t, tc.c, got)
		})
	}
}

// A version 2 header written before Recovered existed (fullCustomer's, as
// that encoder wrote it) still decodes, to the same customer; and the
// field costs nothing until it is set.
func TestCustomerReadsHeaderWithoutRecovered(t *testing.T) {
	b, err := hex.DecodeString(headerBeforeRecovered)
	require.NoError(t, err)
	got := state.Customer{ID: "full"}
	require.NoError(t, got.UnmarshalBinary(b))
	require.Equal(t, fullCustomer("full"), got)
	require.Zero(t, got.Recovered)
	c := fullCustomer("full")
	without := c.AppendBinary(nil) // version 3 now: compact times and numbers
	require.Less(t, len(without), len(b), "version 3 is smaller than version 2")
	c.Recovered = c.LastAt - 3600e9
	with := c.AppendBinary(nil)
	require.Greater(t, len(with), len(without))
	got = state.Customer{ID: "full"}
	require.NoError(t, got.UnmarshalBinary(with))
	require.Equal(t, c.Recovered, got.Recovered)
}

const headerBeforeRecovered = "021f808080808020feffffffffffffffff01f7ffffffffffffffff0104676f6c6400000000004a934032d2d8e8f83ec12a2ee7543378f83a62ccfcd07df7b1b4996a114dc8766b2ed10826c912f624a808a73b455d75de21404550c1a7f4979b77e3653df2735115af817ab93cf30a8fe61f8f358772c4081ebea4b1d1f17d82555cb92d1c7137fc8cfacea966f0f075c498e325b16faaeffb36f8a1fbee636933d50d1e466e1de36a73229a90edd65ca2113716db6c90d6d9af4c9225ec4950114e610e706b03ca48ec768abaeabc43808a8b06056a76bdb728a0824fe92f37efc6b5fe9968e9b02665ca7ae4e7a22a5e03dff62e675ca495a1f47279e6151ecd3f09efc365cf9704de1e6b0ee588113c7c33e75864428b731a4863a3e3fb04abb85ddfed62b57ee256725b38e26ef819f587d78261287251939c53cde0e1eb8831b1cf17609b65c0cfc64b62df54dff76ddbc7ac5e0e592f0cf043f7ddc7d266aa05c0415d814c9e481a3c8cdc3ac6d5e62fb8d65bf43f0d85443421dbadb9442359b06b5a67337cc16e2cb6d920adb35f83a80059da26ebfd98244bd893a0229cada095574d1a5a3ac21ce0d6069491d8d7982a56c00dc9760291a69f3410000000000000464000000000008046400000000000004740000000000080474000000000000048400000000000804840000000000000494000000000008049400000000000004a400000000000804a400000000000004b400000000000804b400000000000004c400000000000804c400000000000004d400000000000804d4047ac2416105555555555552dc00000000000002ec0abaaaaaaaaaa2ec05555555555552fc000000000000030c055555555555530c0abaaaaaaaaaa30c000000000000031c055555555555531c0abaaaaaaaaaa31c000000000000032c055555555555532c0abaaaaaaaaaa32c000000000000033c055555555555533c0abaaaaaaaaaa33c010fe9faa96b8fdffffff0108636865636b6f7574066661696c6564a8ffffffff3ffef7d3dcb0fdffffff0108636865636b6f7574066661696c6564a6ffffffff3ffecffda2a9fdffffff0108636865636b6f7574066661696c6564a4ffffffff3ffea7a7e9a1fdffffff0108636865636b6f7574066661696c6564a2ffffffff3ffeffd0af9afdffffff0108636865636b6f7574066661696c6564a0ffffffff3ffed7faf592fdffffff0108636865636b6f7574066661696c65649effffffff3ffeafa4bc8bfdffffff0108636865636b6f7574066661696c65649cffffffff3ffe87ce8284fdffffff0108636865636b6f7574066661696c65649affffffff3ffedff7c8fcfcffffff0108636865636b6f7574066661696c656498ffffffff3ffeb7a18ff5fcffffff0108636865636b6f7574066661696c656496ffffffff3ffe8fcbd5edfcffffff0108636865636b6f7574066661696c656494ffffffff3ffee7f49be6fcffffff0108636865636b6f7574066661696c656492ffffffff3ffebf9ee2defcffffff0108636865636b6f7574066661696c656490ffffffff3ffe97c8a8d7fcffffff0108636865636b6f7574066661696c65648effffffff3ffeeff1eecffcffffff0108636865636b6f7574066661696c65648cffffffff3ffec79bb5c8fcffffff0108636865636b6f7574066661696c65648affffffff3f0500036135350d6c6174655f64656c69766572790390ffffffffffffffff014144656c6976657279206172726976656420342e322064617973206c61746520e2809420776f727365207468616e2039392e3625206f662064656c6976657269657300036135360d6c6174655f64656c6976657279008effffffffffffffff014144656c6976657279206172726976656420342e322064617973206c61746520e2809420776f727365207468616e2039392e3625206f662064656c6976657269657300036135370d6c6174655f64656c6976657279018cffffffffffffffff014144656c6976657279206172726976656420342e322064617973206c61746520e2809420776f727365207468616e2039392e3625206f662064656c6976657269657300036135380d6c6174655f64656c6976657279028affffffffffffffff014144656c6976657279206172726976656420342e322064617973206c61746520e2809420776f727365207468616e2039392e3625206f662064656c6976657269657300036135390d6c6174655f64656c69766572790388ffffffffffffffff014144656c6976657279206172726976656420342e322064617973206c61746520e2809420776f727365207468616e2039392e3625206f662064656c6976657269657304feffaf9db9c0b1e8d0010103aaffffffffffffffff01"

// appendV1 is the version 1 encoder, as it was.
func appendV1(c *state.Customer, keys map[uint32]string) []byte {
	var b []byte
	str := func(s string) { b = binary.AppendUvarint(b, uint64(len(s))); b = append(b, s...) }
	f64 := func(v float64) { b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v)) }
	ref := func(a state.AlertRef) {
		str(a.ID)
		str(a.Detector)
		b = append(b, a.Severity)
		b = binary.AppendVarint(b, a.Time)
		str(a.Reason)
	}
	b = append(b, 1)
	b = binary.AppendUvarint(b, c.Seq)
	b = binary.AppendVarint(b, c.FirstAt)
	b = binary.AppendVarint(b, c.LastAt)
	str(c.Tier)
	f64(c.Value)
	b = binary.AppendUvarint(b, uint64(len(c.Recent)))
	for _, r := range c.Recent {
		b = binary.LittleEndian.AppendUint64(b, r)
	}
	b = binary.AppendUvarint(b, uint64(len(c.Series)))
	for _, s := range c.Series {
		str(keys[s.ID])
		b = binary.AppendUvarint(b, uint64(len(s.Values)))
		for _, v := range s.Values {
			f64(v)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(c.Bad)))
	for _, m := range c.Bad {
		b = binary.AppendVarint(b, m.Time)
		str(m.Journey)
		str(m.Outcome)
		b = binary.AppendUvarint(b, m.Seq)
	}
	b = binary.AppendUvarint(b, uint64(len(c.Alerts)))
	for _, a := range c.Alerts {
		ref(a)
	}
	ref(c.Cooldown)
	b = binary.AppendVarint(b, c.Complaint)
	f64(c.WorstBad)
	b = binary.AppendVarint(b, c.WorstAt)
	f64(c.LastBad)
	return b
}

func TestCustomerTruncatedIsCorrupt(t *testing.T) {
	for _, tc := range customerCases() {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.c.AppendBinary(nil)
			for i := range len(b) {
				c := state.Customer{ID: tc.c.ID}
				err := c.UnmarshalBinary(b[:i:i])
				require.ErrorIs(t, err, state.ErrCorrupt, "truncated at %d of %d", i, len(b))
				require.Equal(t, tc.c.ID, c.ID)
			}
		})
	}
}

func TestCustomerBadVersion(t *testing.T) {
	full := fullCustomer("x")
	b := full.AppendBinary(nil)
	for _, v := range []byte{0, 4, 0xff} {
		b[0] = v
		var c state.Customer
		require.ErrorIs(t, c.UnmarshalBinary(b), state.ErrCorrupt, "version %d", v)
	}
}

func TestCustomerHugeCountsDoNotAllocate(t *testing.T) {
	// A version byte, then header fields, then a count claiming 2^62 entries.
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"recent", append([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, uvarint(1<<62)...)},
		{"series", append([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, uvarint(1<<62)...)},
		{"series values", append([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0}, uvarint(1<<62)...)},
		{"string", append([]byte{1, 0, 0, 0}, uvarint(1<<62)...)},
		// Half a million empty series, then nothing: the worst amplification a valid prefix allows.
		{"many small series", append(append([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, uvarint(1<<19)...),
			make([]byte, 1<<20)...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c state.Customer
			allocated := allocatedBytes(func() {
				require.ErrorIs(t, c.UnmarshalBinary(tc.b), state.ErrCorrupt)
			})
			require.Less(t, allocated, uint64(64*len(tc.b)+1<<16), "allocated for %d input bytes", len(tc.b))
		})
	}
}

func uvarint(v uint64) []byte {
	var b []byte
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func allocatedBytes(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func FuzzCustomerDecode(f *testing.F) {
	for _, tc := range customerCases() {
		f.Add(tc.c.AppendBinary(nil))
	}
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		c := state.Customer{ID: "fuzz"}
		err := c.UnmarshalBinary(b)
		if err != nil {
			require.ErrorIs(t, err, state.ErrCorrupt)
			return
		}
		require.Equal(t, "fuzz", c.ID)
		// Whatever decoded is bounded by the input...
		require.LessOrEqual(t, len(c.Recent)*8, len(b))
		require.LessOrEqual(t, len(c.Series)*2, len(b))
		require.LessOrEqual(t, len(c.Bad)*4, len(b))
		require.LessOrEqual(t, len(c.Alerts)*5, len(b))
		// ...and survives a second round trip unchanged (NaNs compared by bits).
		again := state.Customer{ID: "fuzz"}
		require.NoError(t, again.UnmarshalBinary(c.AppendBinary(nil)))
		require.Equal(t, c.AppendBinary(nil), again.AppendBinary(nil))
	})
}

func experienceCases() []struct {
	name string
	ev   event.Event
} {
	return []struct {
		name string
		ev   event.Event
	}{
		{"minimal", event.Event{Time: 1, Journey: "delivery"}},
		{"zero time, negative time", event.Event{Time: -1_000_000_000, Journey: "j"}},
		{"full", event.Event{EventID: "ev-1", Time: 1_767_225_600_000_000_000, Journey: "delivery", Outcome: "delivered",
			Metrics: []event.Metric{{Name: "delay_hours", Value: 4.25}, {Name: "neg", Value: -1e300}, {Name: "zero", Value: 0}},
			Attrs:   []event.Attr{{Key: "order_id", Value: "o-1"}, {Key: "promised_by", Value: "2026-01-02T00:00:00Z"}, {Key: "empty", Value: ""}}}},
		{"unicode", event.Event{EventID: "évènement-🙂", Time: 5, Journey: "livraison", Outcome: "échoué",
			Metrics: []event.Metric{{Name: "retard_€", Value: 1}}, Attrs: []event.Attr{{Key: "région", Value: "北"}}}},
		{"many metrics", func() event.Event {
			ev := event.Event{Time: 9, Journey: "j"}
			for i := range 100 {
				ev.Metrics = append(ev.Metrics, event.Metric{Name: fmt.Sprint("m", i), Value: float64(i)})
				ev.Attrs = append(ev.Attrs, event.Attr{Key: fmt.Sprint("a", i), Value: fmt.Sprint(i)})
			}
			return ev
		}()},
	}
}

func TestExperienceRoundTrip(t *testing.T) {
	for _, tc := range experienceCases() {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.ev
			in.CustomerID = "cust-é"
			b := state.AppendExperience(nil, 77, &in)
			seq, err := state.ExperienceSeq(b)
			require.NoError(t, err)
			require.Equal(t, uint64(77), seq)

			// The decoded event reuses slices; Tier and Value are not part of the window.
			got := event.Event{Tier: "stale", Value: 3, HasValue: true,
				Metrics: make([]event.Metric, 0, 4), Attrs: make([]event.Attr, 0, 4)}
			require.NoError(t, state.DecodeExperience(b, "cust-é", &got))
			normalise(&got)
			normalise(&in)
			require.Equal(t, in, got)

			// The prefix of the buffer is kept.
			b2 := state.AppendExperience([]byte{0xAA}, 77, &tc.ev)
			require.Equal(t, byte(0xAA), b2[0])
			require.Equal(t, b, b2[1:])
		})
	}
}

// normalise makes empty slices nil, so that reuse of capacity does not matter.
func normalise(ev *event.Event) {
	if len(ev.Metrics) == 0 {
		ev.Metrics = nil
	}
	if len(ev.Attrs) == 0 {
		ev.Attrs = nil
	}
}

func TestExperienceTruncatedIsCorrupt(t *testing.T) {
	for _, tc := range experienceCases() {
		t.Run(tc.name, func(t *testing.T) {
			b := state.AppendExperience(nil, 1<<40, &tc.ev)
			for i := range len(b) {
				var ev event.Event
				err := state.DecodeExperience(b[:i:i], "c", &ev)
				require.ErrorIs(t, err, state.ErrCorrupt, "truncated at %d of %d", i, len(b))
				if i <= 6 { // version byte and the seq's varint
					_, err = state.ExperienceSeq(b[:i:i])
					require.ErrorIs(t, err, state.ErrCorrupt, "seq truncated at %d", i)
				}
			}
			b[0] = 0xff
			var ev event.Event
			require.ErrorIs(t, state.DecodeExperience(b, "c", &ev), state.ErrCorrupt)
		})
	}
}

func FuzzExperienceDecode(f *testing.F) {
	for _, tc := range experienceCases() {
		f.Add(state.AppendExperience(nil, 3, &tc.ev))
	}
	f.Add([]byte{2, 1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		var ev event.Event
		if err := state.DecodeExperience(b, "c", &ev); err != nil {
			require.ErrorIs(t, err, state.ErrCorrupt)
			return
		}
		require.Equal(t, "c", ev.CustomerID)
		require.LessOrEqual(t, len(ev.Metrics)*9, len(b))
		require.LessOrEqual(t, len(ev.Attrs)*2, len(b))
	})
}

// TestDecodeMutations flips random bytes of valid encodings: decoding must
// fail with ErrCorrupt or succeed, never panic (a deterministic complement
// to the fuzz tests, run on every go test).
func TestDecodeMutations(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	var valid [][]byte
	for _, tc := range customerCases() {
		valid = append(valid, tc.c.AppendBinary(nil))
	}
	var exps [][]byte
	for _, tc := range experienceCases() {
		exps = append(exps, state.AppendExperience(nil, 9, &tc.ev))
	}
	mutate := func(b []byte) []byte {
		b = append([]byte(nil), b...)
		for range 1 + rnd.IntN(4) {
			switch i := rnd.IntN(len(b)); rnd.IntN(3) {
			case 0:
				b[i] = byte(rnd.Uint32())
			case 1:
				b[i] = 0xff
			default:
				b = b[:i+1]
			}
		}
		return b
	}
	for range 20000 {
		b := mutate(valid[rnd.IntN(len(valid))])
		var c state.Customer
		if err := c.UnmarshalBinary(b); err != nil {
			require.ErrorIs(t, err, state.ErrCorrupt)
		}
		e := mutate(exps[rnd.IntN(len(exps))])
		var ev event.Event
		if err := state.DecodeExperience(e, "c", &ev); err != nil {
			require.ErrorIs(t, err, state.ErrCorrupt)
		}
	}
}
