package event

import (
	"math"
	"math/rand/v2"
	"strconv"
	"time"
)

// sampleStart is the time of the first sample event.
var sampleStart = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC).UnixMilli()

var (
	sampleTiers   = [...]string{"bronze", "bronze", "bronze", "silver", "silver", "gold", "platinum"}
	sampleRegions = [...]string{"eu-west", "eu-central", "us-east", "us-west", "ap-south"}
)

// SampleEvents returns n realistic experience events (about 240 bytes of
// JSON each), the same for the same seed: customers c-0000000..c-0099999,
// journeys delivery (delay_hours), support_call (wait_seconds), checkout
// (outcome ok or failed) and playback (rebuffer_ratio) with rare bad
// experiences in the tails, attributes order_id and region, the customer's
// tier and value, and times increasing from 2025-03-01T00:00:00Z by up to
// two seconds.
func SampleEvents(n int, seed int64) [][]byte {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
	out := make([][]byte, n)
	ms := sampleStart
	for i := range out {
		ms += rng.Int64N(2000)
		cust := rng.IntN(100_000)
		b := make([]byte, 0, 288)
		b = append(b, `{"event_id":"e-`...)
		b = appendHex(b, rng.Uint64()>>16)
		b = append(b, `","customer_id":"c-`...)
		b = appendPadded(b, cust, 7)
		b = append(b, `","time":"`...)
		b = time.UnixMilli(ms).UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
		b = append(b, `","journey":"`...)
		metrics := true
		switch j := rng.IntN(100); {
		case j < 40:
			delay := rng.ExpFloat64() * 2
			if rng.IntN(100) == 0 {
				delay = 24 + rng.Float64()*96 // days late
			}
			b = append(b, `delivery","outcome":"delivered","metrics":{"delay_hours":`...)
			b = strconv.AppendFloat(b, math.Round(delay*100)/100, 'f', -1, 64)
		case j < 65:
			wait := 30 + rng.ExpFloat64()*90
			outcome := "ok"
			if rng.IntN(50) == 0 {
				wait, outcome = 1800+rng.Float64()*3600, "dropped"
			}
			b = append(b, `support_call","outcome":"`...)
			b = append(b, outcome...)
			b = append(b, `","metrics":{"wait_seconds":`...)
			b = strconv.AppendInt(b, int64(wait), 10)
		case j < 85:
			outcome := "ok"
			if rng.IntN(50) == 0 {
				outcome = "failed"
			}
			b = append(b, `checkout","outcome":"`...)
			b = append(b, outcome...)
			b = append(b, '"')
			metrics = false
		default:
			ratio := rng.ExpFloat64() * 0.01
			if rng.IntN(100) == 0 {
				ratio = 0.2 + rng.Float64()*0.3
			}
			b = append(b, `playback","metrics":{"rebuffer_ratio":`...)
			b = strconv.AppendFloat(b, math.Round(min(ratio, 1)*10000)/10000, 'f', -1, 64)
		}
		if metrics {
			b = append(b, '}')
		}
		b = append(b, `,"attributes":{"order_id":"o-`...)
		b = appendPadded(b, rng.IntN(100_000_000), 8)
		b = append(b, `","region":"`...)
		b = append(b, sampleRegions[cust%len(sampleRegions)]...)
		// Tier and value are the customer's own, whatever the seed.
		h := uint64(cust)*0x9e3779b97f4a7c15 ^ 0x5851f42d4c957f2d
		b = append(b, `"},"customer":{"tier":"`...)
		b = append(b, sampleTiers[h%uint64(len(sampleTiers))]...)
		b = append(b, `","value":`...)
		b = strconv.AppendFloat(b, float64(h>>40%500_000)/100, 'f', -1, 64)
		b = append(b, "}}"...)
		out[i] = b
	}
	return out
}

func appendHex(b []byte, v uint64) []byte {
	const hex = "0123456789abcdef"
	for shift := 44; shift >= 0; shift -= 4 { // 12 digits
		b = append(b, hex[v>>uint(shift)&15])
	}
	return b
}

func appendPadded(b []byte, v, width int) []byte {
	s := strconv.Itoa(v)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}
