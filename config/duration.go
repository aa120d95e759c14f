package config

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

const day = 24 * time.Hour

// daysPrefix matches the "<number>d" part of durations such as "7d" or "1.5d12h".
var daysPrefix = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)d`)

// ParseDuration reads a Go duration ("90s", "72h", "1h30m") or one with a
// leading day count ("7d", "1.5d", "1d12h"; a day is 24 hours). Negative
// durations are rejected.
func ParseDuration(s string) (Duration, error) {
	str := strings.TrimSpace(s)
	if str == "" {
		return 0, fmt.Errorf("empty duration (use e.g. 90s, 1h30m or 7d)")
	}
	if strings.HasPrefix(str, "-") {
		return 0, fmt.Errorf("duration must not be negative (got %q)", s)
	}
	invalid := fmt.Errorf("invalid duration %q (use e.g. 90s, 1h30m or 7d)", s)

	var total time.Duration
	if m := daysPrefix.FindStringSubmatch(str); m != nil {
		days, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			return 0, invalid
		}
		if days*float64(day) >= math.MaxInt64 {
			return 0, fmt.Errorf("duration %q is too long", s)
		}
		total = time.Duration(days * float64(day))
		str = str[len(m[0]):]
		if str == "" {
			return Duration(total), nil
		}
	}
	d, err := time.ParseDuration(str)
	if err != nil {
		return 0, invalid
	}
	if d < 0 {
		return 0, fmt.Errorf("duration must not be negative (got %q)", s)
	}
	if total > math.MaxInt64-d {
		return 0, fmt.Errorf("duration %q is too long", s)
	}
	return Duration(total + d), nil
}

// String formats d the way ParseDuration reads it: whole days as "7d",
// otherwise the shortest Go form ("90s" is "1m30s", "36h" is "36h").
func (d Duration) String() string {
	td := time.Duration(d)
	if td > 0 && td%day == 0 {
		return strconv.FormatInt(int64(td/day), 10) + "d"
	}
	s := td.String()
	if strings.HasSuffix(s, "m0s") { // "1h30m0s" -> "1h30m"
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") { // "1h0m" -> "1h"
		s = s[:len(s)-2]
	}
	return s
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		*d = 0
		return nil
	}
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("expected a duration such as 90s, 72h or 7d, got %s", describe(n))
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }
