package desk

import (
	"encoding/json"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// appendCase appends c's JSON to buf, as encoding/json would write it,
// by hand: the queue writes thousands of cases per request (10,000 took
// 370 ms with encoding/json, which re-validates every byte of every
// alert; the alerts are the alerts topic's JSON, valid when read, and are
// copied as they are).
func appendCase(buf []byte, c *Case) []byte {
	buf = append(buf, `{"customer_id":`...)
	buf = appendString(buf, c.CustomerID)
	buf = append(buf, `,"tier":`...)
	buf = appendString(buf, c.Tier)
	buf = append(buf, `,"value":`...)
	buf = appendFloat(buf, c.Value)
	buf = append(buf, `,"severity":`...)
	buf = appendString(buf, c.Severity)
	buf = append(buf, `,"priority":`...)
	buf = appendFloat(buf, c.Priority)
	buf = append(buf, `,"opened_at":`...)
	buf = appendTime(buf, c.OpenedAt)
	buf = append(buf, `,"updated_at":`...)
	buf = appendTime(buf, c.UpdatedAt)
	buf = append(buf, `,"alerts":[`...)
	for i, a := range c.Alerts {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, a...)
	}
	buf = append(buf, `],"recovery":{"action":`...)
	buf = appendString(buf, c.Recovery.Action)
	buf = append(buf, `,"budget":`...)
	buf = appendFloat(buf, c.Recovery.Budget)
	buf = append(buf, `,"currency":`...)
	buf = appendString(buf, c.Recovery.Currency)
	buf = append(buf, `,"requires_approval":`...)
	buf = strconv.AppendBool(buf, c.Recovery.RequiresApproval)
	buf = append(buf, `},"claim":`...)
	if cl := c.Claim; cl == nil {
		buf = append(buf, "null"...)
	} else {
		buf = append(buf, `{"by":`...)
		buf = appendString(buf, cl.By)
		buf = append(buf, `,"at":`...)
		buf = appendTime(buf, cl.At)
		buf = append(buf, `,"expires_at":`...)
		buf = appendTime(buf, cl.ExpiresAt)
		buf = append(buf, '}')
	}
	buf = append(buf, `,"approval":`...)
	if ap := c.Approval; ap == nil {
		buf = append(buf, "null"...)
	} else {
		buf = append(buf, `{"state":`...)
		buf = appendString(buf, ap.State)
		if ap.By != "" {
			buf = append(buf, `,"by":`...)
			buf = appendString(buf, ap.By)
		}
		if ap.At != nil {
			buf = append(buf, `,"at":`...)
			buf = appendTime(buf, *ap.At)
		}
		buf = append(buf, '}')
	}
	buf = append(buf, `,"approvers":`...)
	if c.Approvers == nil {
		buf = append(buf, "null"...)
	} else {
		buf = append(buf, '[')
		for i, a := range c.Approvers {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendString(buf, a)
		}
		buf = append(buf, ']')
	}
	buf = append(buf, `,"status":`...)
	buf = appendString(buf, c.Status)
	buf = append(buf, `,"outcome":`...)
	buf = appendJSON(buf, c.Outcome)
	if c.ClosedAt != nil {
		buf = append(buf, `,"closed_at":`...)
		buf = appendTime(buf, *c.ClosedAt)
	}
	if len(c.Later) > 0 {
		buf = append(buf, `,"later_feedback":`...)
		buf = appendJSON(buf, c.Later)
	}
	return append(buf, '}')
}

func appendJSON(buf []byte, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // strings, numbers and times
	}
	return append(buf, b...)
}

func appendTime(buf []byte, t time.Time) []byte {
	buf = append(buf, '"')
	buf = t.AppendFormat(buf, time.RFC3339Nano)
	return append(buf, '"')
}

// appendFloat writes v as encoding/json does.
func appendFloat(buf []byte, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(buf, '0')
	}
	abs := math.Abs(v)
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		return strconv.AppendFloat(buf, v, 'e', -1, 64)
	}
	return strconv.AppendFloat(buf, v, 'f', -1, 64)
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string (HTML characters not escaped).
func appendString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
				buf = append(buf, s[start:i]...)
				if r == utf8.RuneError {
					buf = append(buf, `\ufffd`...)
				} else {
					buf = append(buf, `\u202`...)
					buf = append(buf, hexDigits[r&0xf])
				}
				i += size
				start = i
				continue
			}
			i += size
			continue
		}
		buf = append(buf, s[start:i]...)
		switch c {
		case '"', '\\':
			buf = append(buf, '\\', c)
		case '\n':
			buf = append(buf, '\\', 'n')
		case '\r':
			buf = append(buf, '\\', 'r')
		case '\t':
			buf = append(buf, '\\', 't')
		default:
			buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}
