package replay

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// The HTML report (--report-html): one self-contained page, its charts
// plain SVG drawn here, with no script and no fetch of anything. Each chart
// has a title and a description for screen readers, and a table of the
// same figures beside it.

//go:embed report.html.tmpl
var reportHTML string

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"pct": func(v *float64) string { return pct(v) },
	"pctv": func(v float64) string {
		return fmt.Sprintf("%.1f%%", 100*v)
	},
	"dur":        func(v float64) string { return seconds(v) },
	"money":      money,
	"n":          num,
	"args":       func(v ...any) []any { return v },
	"deref":      func(v *float64) float64 { return *v },
	"severities": func() []string { return []string{"minor", "major", "critical"} },
}).Parse(reportHTML))

// chart is one SVG chart, laid out in a viewBox of W × H user units.
type chart struct {
	ID, Title, Desc string
	W, H            float64
	Bars            []bar
	Lines           []line
	Texts           []text
	Legend          []legend
}

type bar struct {
	X, Y, W, H float64
	Class      string
	Title      string // the bar's tooltip: what it shows, in words
}

type line struct {
	X1, Y1, X2, Y2 float64
	Class          string
}

type text struct {
	X, Y   float64
	Anchor string // start, middle, end
	Class  string
	Text   string
}

type legend struct{ Class, Label string }

// htmlPage is what the template is given.
type htmlPage struct {
	R          *Report
	Title      string
	Period     string
	Daily      chart
	Coverage   chart
	Leads      []leadChart
	LeadLabels []string
	Feedback   chart
	Silent     chart
	Top        chart
	Rows       []detectorRow
	Hot        chart
	HotRows    []hotRow
}

// hotRow is a hotspot episode as the report's table shows it.
type hotRow struct {
	H      *ReportHotspot
	Where  string // "carrier rapid, region east"
	Opened string
	Closed string // "still open" when it had not closed by the end of the input
}

type leadChart struct {
	Name  string
	Chart chart
	D     *Detector
}

type detectorRow struct {
	Name string
	D    *Detector
}

// WriteHTML writes the report as one self-contained HTML page
// (--report-html): alerts per day by severity against the frontline
// capacity, complaint coverage and lead times by detector, precision and
// recovery rate by detector (with feedback), silent reach, and the
// customers flagged most.
func (r *Report) WriteHTML(w io.Writer) error {
	p := htmlPage{R: r, Title: "peakend replay report"}
	if r.Totals.Events > 0 {
		p.Period = fmt.Sprintf("%s to %s", r.First.UTC().Format("2 Jan 2006 15:04"), r.Last.UTC().Format("2 Jan 2006 15:04 MST"))
	}
	for _, name := range r.Order {
		p.Rows = append(p.Rows, detectorRow{name, r.Detectors[name]})
	}
	p.Daily = dailyChart(r)
	p.Coverage = hbarChart("coverage", "Complaint coverage by detector",
		"Share of the customers who complained that each detector flagged before their first complaint.",
		p.Rows, 1, func(d *Detector) []float64 { return []float64{d.Coverage} },
		[]string{"cov"}, func(_ string, v float64, d *Detector) string {
			return fmt.Sprintf("%.1f%% (%d of %d complainers)", 100*v, d.FlaggedBefore, r.Totals.Complainers)
		}, nil)
	for _, row := range p.Rows {
		if row.D.FlaggedBefore > 0 {
			p.Leads = append(p.Leads, leadChart{Name: row.Name, Chart: leadTimeChart(row.Name, row.D), D: row.D})
		}
	}
	for _, e := range leadEdges {
		p.LeadLabels = append(p.LeadLabels, e.label)
	}
	if r.FeedbackGiven {
		var rows []detectorRow
		for _, row := range p.Rows {
			if row.D.Total() > 0 {
				rows = append(rows, row)
			}
		}
		p.Feedback = hbarChart("feedback", "Precision and recovery rate by detector",
			"For each detector with outcomes recorded: precision (outcomes that were not false alarms) and recovery rate (outcomes that were recoveries).",
			rows, 1, func(d *Detector) []float64 { return []float64{*d.Precision, *d.RecoveryRate} },
			[]string{"prec", "rec"}, func(series string, v float64, d *Detector) string {
				return fmt.Sprintf("%s %.1f%% of %d outcomes", series, 100*v, d.Total())
			}, []legend{{"prec", "precision"}, {"rec", "recovery rate"}})
	}
	p.Silent = silentChart(p.Rows)
	for _, h := range r.Hotspots {
		row := hotRow{H: h, Where: where(h.Values), Opened: h.OpenedAt.UTC().Format("2 Jan 15:04"), Closed: "still open"}
		if h.ClosedAt != nil {
			row.Closed = h.ClosedAt.UTC().Format("2 Jan 15:04")
		}
		p.HotRows = append(p.HotRows, row)
	}
	p.Hot = hotspotChart(p.HotRows)
	p.Top = topChart(r.TopCustomers)
	if err := reportTemplate.Execute(w, &p); err != nil {
		return fmt.Errorf("replay: write HTML report: %w", err)
	}
	return nil
}

// Layout, in viewBox units: a chart is drawn 400 wide and scales to its
// column, so that text stays legible on a phone.
const (
	chartW   = 400.0
	padLeft  = 44.0
	padRight = 12.0
)

func num(v float64) string { return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) }

// niceMax rounds v up to 1, 2 or 5 × a power of ten (at least 1).
func niceMax(v float64) float64 {
	if v <= 1 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func dailyChart(r *Report) chart {
	c := chart{ID: "daily", Title: "Alerts per day by severity", W: chartW, H: 260}
	top, bottom := 16.0, 214.0
	maxDay := 0
	for _, d := range r.Daily {
		maxDay = max(maxDay, d.Total())
	}
	ymax := niceMax(float64(max(maxDay, r.CapacityPerDay)))
	y := func(v float64) float64 { return bottom - v/ymax*(bottom-top) }
	plotW := chartW - padLeft - padRight
	n := max(len(r.Daily), 1)
	step := plotW / float64(n)
	bw := math.Max(step*0.8, 1)
	for _, v := range []float64{0, ymax / 2, ymax} {
		c.Lines = append(c.Lines, line{padLeft, y(v), chartW - padRight, y(v), "grid"})
		c.Texts = append(c.Texts, text{padLeft - 6, y(v) + 4, "end", "tick", num(v)})
	}
	every := int(math.Ceil(float64(n) / 6))
	for i, d := range r.Daily {
		x := padLeft + float64(i)*step + (step-bw)/2
		base := 0.0
		for _, s := range []struct {
			n     int
			class string
		}{{d.Minor, "minor"}, {d.Major, "major"}, {d.Critical, "critical"}} {
			if s.n == 0 {
				continue
			}
			c.Bars = append(c.Bars, bar{x, y(base + float64(s.n)), bw, y(base) - y(base+float64(s.n)), s.class,
				fmt.Sprintf("%s: %d %s", d.Date, s.n, s.class)})
			base += float64(s.n)
		}
		if i%every == 0 {
			c.Texts = append(c.Texts, text{x + bw/2, bottom + 18, "middle", "tick", d.Date[5:]})
		}
	}
	c.Legend = []legend{{"minor", "minor"}, {"major", "major"}, {"critical", "critical"}}
	if r.CapacityPerDay > 0 {
		cy := y(float64(r.CapacityPerDay))
		c.Lines = append(c.Lines, line{padLeft, cy, chartW - padRight, cy, "capacity"})
		c.Texts = append(c.Texts, text{chartW - padRight, cy - 5, "end", "caplabel", fmt.Sprintf("capacity %d a day", r.CapacityPerDay)})
		c.Legend = append(c.Legend, legend{"capacity", fmt.Sprintf("frontline capacity (%d a day)", r.CapacityPerDay)})
	}
	over := 0
	for _, d := range r.Daily {
		if r.CapacityPerDay > 0 && d.Total() > r.CapacityPerDay {
			over++
		}
	}
	c.Desc = fmt.Sprintf("Stacked columns, one per day from %s to %s: alerts detected that day, minor at the bottom, then major, then critical; the highest day has %d alerts.",
		firstDay(r.Daily).Date, lastDay(r.Daily).Date, maxDay)
	if r.CapacityPerDay > 0 {
		c.Desc += fmt.Sprintf(" A dashed line marks the frontline capacity of %d alerts a day (alerting.max_per_hour × 24); %d days exceed it.", r.CapacityPerDay, over)
	} else {
		c.Desc += " No frontline capacity is set (alerting.max_per_hour)."
	}
	return c
}

func firstDay(ds []Day) Day {
	if len(ds) == 0 {
		return Day{Date: "-"}
	}
	return ds[0]
}

func lastDay(ds []Day) Day {
	if len(ds) == 0 {
		return Day{Date: "-"}
	}
	return ds[len(ds)-1]
}

// hbarChart draws, for each detector row, its name and one horizontal bar
// per series (values in 0..scale).
func hbarChart(id, title, desc string, rows []detectorRow, scale float64, values func(*Detector) []float64,
	classes []string, tip func(series string, v float64, d *Detector) string, lg []legend) chart {
	c := chart{ID: id, Title: title, Desc: desc, W: chartW, Legend: lg}
	const barH, gap = 14.0, 4.0
	const valueW = 48.0 // room for the value after the longest bar
	plotW := chartW - padRight - valueW - 8
	y := 8.0
	for _, row := range rows {
		vs := values(row.D)
		c.Texts = append(c.Texts, text{8, y + 13, "start", "label", row.Name})
		y += 20
		for i, v := range vs {
			w := plotW * v / scale
			series := classes[i]
			if i < len(lg) {
				series = lg[i].Label
			}
			c.Bars = append(c.Bars, bar{8, y, math.Max(w, 0), barH, classes[i], row.Name + ": " + tip(series, v, row.D)})
			c.Texts = append(c.Texts, text{8 + math.Max(w, 0) + 6, y + 11, "start", "value", fmt.Sprintf("%.1f%%", 100*v)})
			y += barH + gap
		}
		y += 8
	}
	c.H = y + 4
	return c
}

// leadW is the width of a lead-time chart: three side by side on a wide
// screen, one on a phone.
const leadW = 330.0

var leadShort = []string{"< 1 h", "1–6 h", "6–24 h", "1–3 d", "3–7 d", "≥ 7 d"}

func leadTimeChart(name string, d *Detector) chart {
	c := chart{ID: "lead-" + name, Title: name, W: leadW, H: 178}
	top, bottom := 14.0, 152.0
	maxN := 0
	for _, b := range d.LeadTimes {
		maxN = max(maxN, b.Count)
	}
	ymax := niceMax(float64(maxN))
	plotW := leadW - padLeft - padRight
	step := plotW / float64(len(d.LeadTimes))
	for _, v := range []float64{0, ymax / 2, ymax} {
		yy := bottom - v/ymax*(bottom-top)
		c.Lines = append(c.Lines, line{padLeft, yy, leadW - padRight, yy, "grid"})
		c.Texts = append(c.Texts, text{padLeft - 6, yy + 4, "end", "tick", num(v)})
	}
	var parts []string
	for i, b := range d.LeadTimes {
		h := float64(b.Count) / ymax * (bottom - top)
		x := padLeft + float64(i)*step + step*0.15
		if b.Count > 0 {
			c.Bars = append(c.Bars, bar{x, bottom - h, step * 0.7, h, "lead", fmt.Sprintf("%s: %d complainers", b.Label, b.Count)})
			c.Texts = append(c.Texts, text{x + step*0.35, bottom - h - 4, "middle", "value", strconv.Itoa(b.Count)})
		}
		c.Texts = append(c.Texts, text{x + step*0.35, bottom + 18, "middle", "tick", leadShort[i]})
		parts = append(parts, fmt.Sprintf("%s: %d", b.Label, b.Count))
	}
	c.Desc = fmt.Sprintf("Columns: how long before their first complaint %s first flagged the %d complainers it flagged in time. %s.",
		name, d.FlaggedBefore, strings.Join(parts, "; "))
	return c
}

func silentChart(rows []detectorRow) chart {
	c := chart{ID: "silent", Title: "Flagged customers who never complained, by detector", W: chartW,
		Desc:   "For each detector, a bar of the customers it flagged: the part who never complained (silent reach), then the part who complained.",
		Legend: []legend{{"silent", "never complained (silent reach)"}, {"complained", "complained"}}}
	maxN := 1
	for _, row := range rows {
		maxN = max(maxN, row.D.FlaggedCustomers)
	}
	plotW := chartW - padRight - 8 - 90
	y := 8.0
	for _, row := range rows {
		if row.D.FlaggedCustomers == 0 {
			continue
		}
		c.Texts = append(c.Texts, text{8, y + 13, "start", "label", row.Name})
		y += 20
		ws := plotW * float64(row.D.SilentReach) / float64(maxN)
		wc := plotW * float64(row.D.FlaggedCustomers-row.D.SilentReach) / float64(maxN)
		if ws > 0 {
			c.Bars = append(c.Bars, bar{8, y, ws, 16, "silent", fmt.Sprintf("%s: %d flagged customers never complained", row.Name, row.D.SilentReach)})
		}
		if wc > 0 {
			c.Bars = append(c.Bars, bar{8 + ws, y, wc, 16, "complained", fmt.Sprintf("%s: %d flagged customers complained", row.Name, row.D.FlaggedCustomers-row.D.SilentReach)})
		}
		c.Texts = append(c.Texts, text{8 + ws + wc + 6, y + 12, "start", "value", fmt.Sprintf("%d of %d", row.D.SilentReach, row.D.FlaggedCustomers)})
		y += 30
	}
	c.H = y + 4
	return c
}

func topChart(top []FlaggedCustomer) chart {
	c := chart{ID: "top", Title: "Customers flagged most", W: chartW,
		Desc: fmt.Sprintf("Horizontal bars: the %d customers with the most alerts, most first.", len(top))}
	maxN := 1
	for _, t := range top {
		maxN = max(maxN, t.Alerts)
	}
	labelW := 150.0
	plotW := chartW - padRight - labelW - 40
	y := 8.0
	for _, t := range top {
		id := t.CustomerID
		if len([]rune(id)) > 20 {
			id = string([]rune(id)[:19]) + "…"
		}
		c.Texts = append(c.Texts, text{labelW, y + 13, "end", "label", id})
		w := plotW * float64(t.Alerts) / float64(maxN)
		c.Bars = append(c.Bars, bar{labelW + 8, y + 1, w, 16, "top", fmt.Sprintf("%s: %d alerts", t.CustomerID, t.Alerts)})
		c.Texts = append(c.Texts, text{labelW + 8 + w + 6, y + 13, "start", "value", strconv.Itoa(t.Alerts)})
		y += 24
	}
	c.H = y + 4
	return c
}

// where is "carrier rapid, region east" (attributes in name order).
func where(values map[string]string) string {
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = strings.ReplaceAll(k, "_", " ") + " " + values[k]
	}
	return strings.Join(parts, ", ")
}

// hotspotChart draws, per hotspot episode, its bad rate at opening beside
// its usual rate.
func hotspotChart(rows []hotRow) chart {
	c := chart{ID: "hotspots", Title: "Hotspots: bad rate at opening against the usual rate", W: chartW,
		Desc:   "For each hotspot that opened, two bars: the share of its experiences that went bad in the window that opened it, and its usual share.",
		Legend: []legend{{"hot", "bad rate at opening"}, {"usual", "usual rate"}}}
	scale := 0.0
	for _, r := range rows {
		scale = math.Max(scale, math.Max(r.H.Rate, r.H.UsualRate))
	}
	if scale == 0 {
		scale = 1
	}
	const barH, gap, valueW = 14.0, 4.0, 48.0
	plotW := chartW - padRight - valueW - 8
	y := 8.0
	for _, r := range rows {
		name := r.H.Name + ": " + r.Where
		c.Texts = append(c.Texts, text{8, y + 13, "start", "label", name})
		y += 20
		for _, v := range []struct {
			class, label string
			v            float64
		}{{"hot", "bad rate at opening", r.H.Rate}, {"usual", "usual rate", r.H.UsualRate}} {
			w := math.Max(plotW*v.v/scale, 1)
			c.Bars = append(c.Bars, bar{8, y, w, barH, v.class, fmt.Sprintf("%s: %s %.1f%%", name, v.label, 100*v.v)})
			c.Texts = append(c.Texts, text{8 + w + 6, y + 11, "start", "value", fmt.Sprintf("%.1f%%", 100*v.v)})
			y += barH + gap
		}
		y += 8
	}
	c.H = y + 4
	return c
}
