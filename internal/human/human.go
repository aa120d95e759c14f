// Package human formats journeys, metrics and durations as a frontline
// person reads them: "Support call wait of 42 minutes".
package human

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Journey returns a journey name as a capitalised phrase: "support_call" → "Support call".
func Journey(j string) string {
	s := strings.ReplaceAll(j, "_", " ")
	if s == "" {
		return "Experience"
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// Journeys returns the lower-case plural: "delivery" → "deliveries".
func Journeys(j string) string {
	s := strings.ReplaceAll(j, "_", " ")
	switch {
	case s == "":
		return "experiences"
	case strings.HasSuffix(s, "y") && !strings.HasSuffix(s, "ay") && !strings.HasSuffix(s, "ey"):
		return s[:len(s)-1] + "ies"
	case strings.HasSuffix(s, "s"), strings.HasSuffix(s, "sh"), strings.HasSuffix(s, "ch"):
		return s + "es"
	}
	return s + "s"
}

// unit suffixes understood in metric names.
var units = []struct {
	suffix string
	scale  time.Duration
}{
	{"_seconds", time.Second}, {"_secs", time.Second}, {"_minutes", time.Minute},
	{"_hours", time.Hour}, {"_days", 24 * time.Hour}, {"_ms", time.Millisecond},
}

// Metric returns the metric's name without its unit: "delay_hours" → "delay".
func Metric(m string) string {
	for _, u := range units {
		if base, ok := strings.CutSuffix(m, u.suffix); ok {
			return strings.ReplaceAll(base, "_", " ")
		}
	}
	if base, ok := strings.CutSuffix(m, "_ratio"); ok {
		return strings.ReplaceAll(base, "_", " ")
	}
	return strings.ReplaceAll(m, "_", " ")
}

// Value formats v in the metric's unit: delay_hours 100.8 → "4.2 days",
// wait_seconds 2520 → "42 minutes", rebuffer_ratio 0.12 → "12%".
func Value(metric string, v float64) string {
	for _, u := range units {
		if strings.HasSuffix(metric, u.suffix) {
			if v == 0 {
				return "0 " + strings.TrimPrefix(u.suffix, "_")
			}
			return Duration(time.Duration(v * float64(u.scale)))
		}
	}
	if strings.HasSuffix(metric, "_ratio") {
		return Number(v*100) + "%"
	}
	return Number(v)
}

// Duration formats d in the largest sensible unit: "42 minutes", "4.2 days".
func Duration(d time.Duration) string {
	neg := ""
	if d < 0 {
		neg, d = "-", -d
	}
	switch {
	case d >= 48*time.Hour:
		return neg + Number(d.Hours()/24) + " days"
	case d >= 2*time.Hour:
		return neg + Number(d.Hours()) + " hours"
	case d >= 2*time.Minute:
		return neg + Number(d.Minutes()) + " minutes"
	case d >= time.Second:
		return neg + Number(d.Seconds()) + " seconds"
	}
	return neg + Number(float64(d)/float64(time.Millisecond)) + " ms"
}

// Number formats v with at most one decimal, dropping ".0" and adding no exponent.
func Number(v float64) string {
	if math.Abs(v) >= 100 || v == math.Trunc(v) {
		return strconv.FormatFloat(math.Round(v), 'f', -1, 64)
	}
	s := strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64)
	return s
}

// Percent formats a share as "99.6%", with more digits only where they
// tell the tail apart: 0.9995 → "99.95%", never a rounded "100%".
func Percent(share float64) string {
	p := share * 100
	for digits := 1; digits < 4; digits++ {
		s := strconv.FormatFloat(p, 'f', digits, 64)
		if p < 100 && strings.HasPrefix(s, "100") || digits > 1 && strings.HasSuffix(s, "0") {
			continue
		}
		return s + "%"
	}
	return strconv.FormatFloat(p, 'f', 3, 64) + "%"
}

// Outcome phrases "Checkout" + "failed" → "Checkout failed".
func Outcome(journey, outcome string) string {
	if strings.HasSuffix(outcome, "ed") {
		return Journey(journey) + " " + strings.ReplaceAll(outcome, "_", " ")
	}
	return Journey(journey) + " ended " + strings.ReplaceAll(outcome, "_", " ")
}

// Time formats an instant for a reason: "Mon 2 Mar 18:00 UTC", with the
// seconds when it is not on a whole minute ("Mon 2 Mar 18:00:07 UTC"), in
// UTC so that the same input gives the same sentence anywhere.
func Time(t time.Time) string {
	t = t.UTC()
	if t.Second() != 0 || t.Nanosecond() != 0 {
		return t.Truncate(time.Second).Format("Mon 2 Jan 15:04:05 MST")
	}
	return t.Format("Mon 2 Jan 15:04 MST")
}
