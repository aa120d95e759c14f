package state

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// Compact numbers and times decode to exactly what was encoded, in the few
// bytes they promise for the usual values, and in their full form otherwise.
func TestCompactNumbers(t *testing.T) {
	for _, tc := range []struct {
		v   float64
		max int // bytes at most
	}{
		{0, 1}, {1, 1}, {-1, 1}, {300, 2}, {0.532, 2}, {12.345, 3}, {0.01, 1}, {123456.789, 5},
		{1e-7, 9}, {math.Pi, 9}, {math.Inf(1), 9}, {math.Inf(-1), 9}, {math.Copysign(0, -1), 9},
		{1e20, 9}, {-1e20, 9}, {math.MaxFloat64, 9}, {math.SmallestNonzeroFloat64, 9}, {0.1 + 0.2, 9},
		{1 << 53, 9}, {1<<53 - 1, 9},
	} {
		b := enc(nil).num(tc.v)
		require.LessOrEqual(t, len(b), tc.max, "%v", tc.v)
		d := dec{b: b}
		got := d.num()
		require.NoError(t, d.done("num"))
		require.Empty(t, d.b)
		require.Equal(t, math.Float64bits(tc.v), math.Float64bits(got), "%v decoded as %v", tc.v, got)
	}
	nan := enc(nil).num(math.NaN())
	d := dec{b: nan}
	require.True(t, math.IsNaN(d.num()))
	bad := enc(nil).uvarint(1<<3 | numRaw) // the raw marker with a mantissa: corrupt
	d = dec{b: bad}
	d.num()
	require.ErrorIs(t, d.done("num"), ErrCorrupt)
}

func TestCompactTimes(t *testing.T) {
	for _, tc := range []struct {
		t   int64
		max int
	}{
		{0, 1}, {1_764_000_000e9, 5}, {-3600e9, 3}, {1_764_000_000_123e6, 7}, {1_764_000_000_123_456e3, 8},
		{1_764_000_000_123_456_789, 10}, {math.MaxInt64, 11}, {math.MinInt64, 11}, {math.MinInt64 + 1, 11}, {-1, 2},
	} {
		b := enc(nil).when(tc.t)
		require.LessOrEqual(t, len(b), tc.max, "%d", tc.t)
		d := dec{b: b}
		got := d.when()
		require.NoError(t, d.done("when"))
		require.Empty(t, d.b)
		require.Equal(t, tc.t, got)
	}
	d := dec{b: enc(nil).uvarint(1<<2 | whenNanos)}
	d.when()
	require.ErrorIs(t, d.done("when"), ErrCorrupt)
}

// A journey round-trips in version 2, and a version 1 record (times as
// plain varints) still decodes to the same journey.
func TestJourneyVersions(t *testing.T) {
	for _, j := range []Journey{
		{},
		{Status: 2, Level: 1, Start: 1_764_000_000e9, Deadline: 1_764_086_400e9, Due: Parked, AlertID: "a1"},
		{Status: 3, Start: 1_764_000_000_123_456_789, Deadline: -1, Due: 1_764_000_001e9, Until: 1_764_000_002e6, Alerted: math.MinInt64, AlertID: "x"},
	} {
		b := j.AppendBinary(nil)
		var got Journey
		require.NoError(t, got.UnmarshalBinary(b))
		require.Equal(t, j, got)
		v1 := enc(nil).byte1(journeyV1).byte1(j.Status).byte1(j.Level).varint(j.Start).varint(j.Deadline).
			varint(j.Due).varint(j.Until).varint(j.Alerted).str(j.AlertID)
		got = Journey{}
		require.NoError(t, got.UnmarshalBinary(v1))
		require.Equal(t, j, got)
	}
	j := Journey{Start: 1_764_000_000e9, Deadline: 1_764_086_400e9, Due: 1_764_086_400e9}
	require.LessOrEqual(t, len(j.AppendBinary(nil)), 1+2+3*5+2+1)
}
