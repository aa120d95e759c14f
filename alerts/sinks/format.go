package sinks

import (
	"math"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/config"
)

// Text shared by the sinks, so every channel says the same thing the same way.

// deskLink is the recovery-desk link for a: {base}/customers/{escaped id}
// when base is set, else the link the alert already carries ("" for none).
func deskLink(base string, a *alerts.Alert) string {
	base = strings.TrimRight(strings.TrimSpace(base), "/")
	if base == "" {
		return a.DeskURL
	}
	return base + "/customers/" + url.PathEscape(a.CustomerID)
}

// headline is the one-line summary: "[MAJOR] late_delivery for c-123: reason",
// or for a hotspot "[MAJOR] hotspot carrier_trouble opened: reason".
func headline(a *alerts.Alert) string {
	if isHotspot(a) {
		return "[" + strings.ToUpper(a.Severity.String()) + "] hotspot " + a.Detector + " " + hotspotState(a.Hotspot) + ": " + a.Reason
	}
	return "[" + strings.ToUpper(a.Severity.String()) + "] " + a.Detector + " for " + a.CustomerID + ": " + a.Reason
}

// recoveryText is "Call today (budget 150 EUR, no approval needed)", or "" without an action.
func recoveryText(r config.Recovery) string {
	if strings.TrimSpace(r.Action) == "" {
		return ""
	}
	return r.Action + " (" + recoveryTerms(r) + ")"
}

// recoveryTerms is "budget 150 EUR, no approval needed".
func recoveryTerms(r config.Recovery) string {
	var parts []string
	if r.Budget > 0 {
		parts = append(parts, "budget "+money(r.Budget, r.Currency))
	}
	if r.RequiresApproval {
		parts = append(parts, "needs approval")
	} else {
		parts = append(parts, "no approval needed")
	}
	return strings.Join(parts, ", ")
}

// customerText is "gold, 1,200 EUR" (tier and value; either may be missing).
// The value is shown in the playbook's currency.
func customerText(a *alerts.Alert) string {
	var parts []string
	if a.Customer.Tier != "" {
		parts = append(parts, a.Customer.Tier)
	}
	if a.Customer.Value > 0 {
		parts = append(parts, money(a.Customer.Value, a.Recovery.Currency))
	}
	return strings.Join(parts, ", ")
}

// money is amount(v) followed by the currency, if any.
func money(v float64, currency string) string {
	if c := strings.TrimSpace(currency); c != "" {
		return amount(v) + " " + c
	}
	return amount(v)
}

// amount formats money: thousands separators, cents only when there are any
// (1200 → "1,200", 12.5 → "12.50").
func amount(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) >= 1e15 {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	cents := int64(math.Round(v * 100))
	whole, frac := cents/100, cents%100
	digits := strconv.FormatInt(whole, 10)
	var b strings.Builder
	b.WriteString(sign)
	for i, c := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if frac != 0 {
		b.WriteString("." + strconv.FormatInt(100+frac, 10)[1:])
	}
	return b.String()
}

// num formats a metric with at most two decimals: 170, 4.2, 0.33.
func num(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) >= 1e15 {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
}

// maxShortEvidence is how many evidence lines the short forms show.
const maxShortEvidence = 3

// maxShortMetrics is how many metrics an evidence line shows.
const maxShortMetrics = 3

// recentEvidence returns up to n evidence events, newest first, and how many were left out.
func recentEvidence(ev []alerts.Evidence, n int) ([]alerts.Evidence, int) {
	s := slices.Clone(ev)
	sort.SliceStable(s, func(i, j int) bool { return s[i].Time.After(s[j].Time) })
	if len(s) <= n {
		return s, 0
	}
	return s[:n], len(s) - n
}

// evidenceLine is "<time> · delivery · delivered · delay_hours=170", with
// the time written by ts, the event's text passed through esc, and up to
// three metrics, by name.
func evidenceLine(e alerts.Evidence, ts func(time.Time) string, esc func(string) string) string {
	parts := []string{ts(e.Time)}
	if e.Journey != "" {
		parts = append(parts, esc(e.Journey))
	}
	if e.Outcome != "" {
		parts = append(parts, esc(e.Outcome))
	}
	keys := make([]string, 0, len(e.Metrics))
	for k := range e.Metrics {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) > maxShortMetrics {
		keys = keys[:maxShortMetrics]
	}
	for _, k := range keys {
		parts = append(parts, esc(k)+"="+num(e.Metrics[k]))
	}
	return strings.Join(parts, " · ")
}

// plain is the identity escaper, for channels whose text is not markup.
func plain(s string) string { return s }

// utcMinute writes a time as "2024-05-01 14:03 UTC".
func utcMinute(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 MST") }

// evidenceLines is the short evidence: up to three lines, newest first, and
// "+N more" when there is more.
func evidenceLines(a *alerts.Alert, ts func(time.Time) string, esc func(string) string) []string {
	ev, more := recentEvidence(a.Evidence, maxShortEvidence)
	lines := make([]string, 0, len(ev)+1)
	for _, e := range ev {
		lines = append(lines, evidenceLine(e, ts, esc))
	}
	if more > 0 {
		lines = append(lines, "+"+strconv.Itoa(more)+" more")
	}
	return lines
}

// clean replaces control characters (newlines, ANSI escapes) with spaces:
// alert text comes from input events and must not drive a terminal or a log.
func clean(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// truncate shortens s to at most n runes, ending with "…" when cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	i, count := 0, 0
	for j := range s {
		if count == n-1 {
			i = j
			break
		}
		count++
	}
	return s[:i] + "…"
}

// isHotspot reports whether a is a hotspot alert (a cause across customers).
func isHotspot(a *alerts.Alert) bool { return a.Kind == alerts.KindHotspot && a.Hotspot != nil }

// hotspotState is "opened", "getting worse" or "back to normal".
func hotspotState(h *alerts.HotspotInfo) string {
	switch h.State {
	case alerts.HotspotEscalated:
		return "getting worse"
	case alerts.HotspotClosed:
		return "back to normal"
	}
	return "opened"
}

// hotspotWhere is "carrier rapid, region east" (attributes in name order).
func hotspotWhere(h *alerts.HotspotInfo) string {
	keys := make([]string, 0, len(h.Values))
	for k := range h.Values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = strings.ReplaceAll(k, "_", " ") + " " + h.Values[k]
	}
	return strings.Join(parts, ", ")
}

// hotspotRates is "16% bad, usually 1.3% (other values now 1.1%)".
func hotspotRates(h *alerts.HotspotInfo) string {
	return percent(h.Rate) + " bad, usually " + percent(h.UsualRate) + " (other values now " + percent(h.OthersRate) + ")"
}

// hotspotCounts is "45 bad of 280 experiences; 15 customers affected".
func hotspotCounts(h *alerts.HotspotInfo) string {
	return amount(float64(h.Bad)) + " bad of " + amount(float64(h.Events)) + " experiences; " +
		amount(float64(h.Customers)) + " customers affected"
}

// hotspotWindow is "2026-02-15 20:00 UTC – 2026-02-16 02:00 UTC".
func hotspotWindow(h *alerts.HotspotInfo) string {
	return utcMinute(h.WindowStart) + " – " + utcMinute(h.WindowEnd)
}

// alertedBefore is "c-1, c-2, c-3 and 9 more" for the customers alerted
// before the hotspot opened, or "".
func alertedBefore(h *alerts.HotspotInfo, n int) string {
	ids := h.AlertedCustomers
	if len(ids) == 0 {
		return ""
	}
	if len(ids) <= n {
		return strings.Join(ids, ", ")
	}
	return strings.Join(ids[:n], ", ") + " and " + strconv.Itoa(len(ids)-n) + " more"
}

// recoveredText is what a customer alert's recovered_before says.
const recoveredText = "this customer was recovered recently"

// percent is a rate as a person reads it at once: "38%", "4.2%", "0.3%".
func percent(r float64) string {
	p := r * 100
	if p >= 10 {
		return strconv.FormatFloat(math.Round(p), 'f', 0, 64) + "%"
	}
	return strings.TrimSuffix(strconv.FormatFloat(p, 'f', 1, 64), ".0") + "%"
}

// hotspotLink is the desk's page of a hotspot: {base}/#hotspot/{hotspot_id}
// when base is set, else "".
func hotspotLink(base string, a *alerts.Alert) string {
	base = strings.TrimRight(strings.TrimSpace(base), "/")
	if base == "" || a.HotspotID == "" {
		return ""
	}
	return base + "/#hotspot/" + url.PathEscape(a.HotspotID)
}
