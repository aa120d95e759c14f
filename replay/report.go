package replay

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/engine"
	"github.com/peakend/peakend/event"
)

// complaint is a complaint line, or a feedback line (fb) that the engine
// reads for recovered_before: both apply to the partition by event time.
type complaint struct {
	t    int64
	line int
	raw  []byte
	cust string
	fb   bool
}

// readComplaints loads and sorts the complaints file (complaints are few).
func readComplaints(o Options, s *Summary) ([]complaint, error) {
	if o.Complaints == "" {
		return nil, nil
	}
	f, err := os.Open(o.Complaints)
	if err != nil {
		return nil, fmt.Errorf("replay: complaints: %w", err)
	}
	defer f.Close()
	var cs []complaint
	err = eachLine(f, func(line int, _ int64, b []byte) error {
		if len(bytes.TrimSpace(b)) == 0 { // blank lines are skipped, as in the events file
			return nil
		}
		c, err := event.DecodeComplaint(b, o.Config.Events.MaxBytes)
		if err != nil {
			s.Invalid++
			return writeDead(o.DLQ, line, "complaints", err, b)
		}
		cs = append(cs, complaint{t: c.Time, line: line, raw: append([]byte(nil), b...), cust: c.CustomerID})
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(cs, func(a, b complaint) int { return cmp.Compare(a.t, b.t) })
	s.Complaints = len(cs)
	return cs, nil
}

func applyComplaint(pt *engine.Partition, c *complaint, ev *evaluation) error {
	if c.fb {
		return pt.Feedback(&engine.Record{Topic: "feedback", Offset: int64(c.line), Value: c.raw})
	}
	ev.complaint(c.cust, c.t)
	return pt.Complaint(&engine.Record{Topic: "complaints", Offset: int64(c.line), Value: c.raw})
}

// alertRec is what the evaluation keeps of one alert.
type alertRec struct {
	det       int32           // index in evaluation.dets
	sev       alerts.Severity //
	t         int64           // event time: coverage and lead time count from it, as the live metric does
	detected  int64           // detected_at: feedback before it names an alert not raised yet
	cust      string          //
	budget    float64         // the playbook's, for this severity
	currency  string          //
	feedback  bool            // at least one feedback event applied
	outcome   string          // the latest outcome by event time; "" = none
	outcomeAt int64           //
	spent     []event.Money   // from every feedback event applied
}

// evaluation tracks docs/reference.md, "The replay report" over a replay.
type evaluation struct {
	lookback   int64
	capacity   int // alerts per day the frontline takes; 0 = not set
	dets       []string
	detIdx     map[string]int32
	alerts     []alertRec
	byID       map[string]int32   // alert_id → index in alerts (with --feedback only)
	byCust     map[string][]int32 // customer → their alerts, in processing order
	complained map[string]int64   // customer → first complaint
	feedback   bool               // --feedback given
	fbEvents   int                // feedback events applied
	fbInvalid  int                // malformed feedback lines
	fbUnknown  int                // feedback naming an alert the replay did not raise (by its time)
	tagged     map[string]int     // hotspot_id → customer alerts carrying it
}

func (e *evaluation) init(cfg *config.Config) {
	e.lookback = int64(cfg.Alerting.Lookback)
	e.capacity = 24 * cfg.Alerting.MaxPerHour
	e.detIdx = map[string]int32{}
	for _, d := range cfg.Detectors {
		e.detector(d.Name)
	}
	e.byID = map[string]int32{}
	e.byCust = map[string][]int32{}
	e.complained = map[string]int64{}
}

func (e *evaluation) detector(name string) int32 {
	i, ok := e.detIdx[name]
	if !ok {
		i = int32(len(e.dets))
		e.dets = append(e.dets, name)
		e.detIdx[name] = i
	}
	return i
}

func (e *evaluation) alert(a *alerts.Alert) {
	i := int32(len(e.alerts))
	e.alerts = append(e.alerts, alertRec{det: e.detector(a.Detector), sev: a.Severity, t: a.EventTime.UnixNano(),
		detected: a.DetectedAt.UnixNano(), cust: a.CustomerID, budget: a.Recovery.Budget, currency: a.Recovery.Currency})
	if e.feedback { // ids are only looked up by feedback: a long replay without it need not hold them
		e.byID[a.AlertID] = i
	}
	e.byCust[a.CustomerID] = append(e.byCust[a.CustomerID], i)
	if a.HotspotID != "" {
		if e.tagged == nil {
			e.tagged = map[string]int{}
		}
		e.tagged[a.HotspotID]++
	}
}

func (e *evaluation) complaint(cust string, t int64) {
	if old, ok := e.complained[cust]; !ok || t < old {
		e.complained[cust] = t
	}
}

// Outcomes are the figures from feedback events for a set of alerts
// (docs/reference.md, "The replay report"). The ratios are null when no
// outcome was recorded for the set (or no --feedback was given).
type Outcomes struct {
	Alerts        int     `json:"alerts"`
	Feedback      int     `json:"feedback"`       // alerts with at least one feedback event
	FeedbackShare float64 `json:"feedback_share"` // Feedback / Alerts
	// Outcomes counts the alerts by their outcome (the latest by event
	// time): recovered, declined, unreachable, false_alarm.
	Outcomes         map[string]int `json:"outcomes"`
	Precision        *float64       `json:"precision"`         // 1 − false_alarm / outcomes
	RecoveryRate     *float64       `json:"recovery_rate"`     // recovered / outcomes
	UnreachableShare *float64       `json:"unreachable_share"` // unreachable / outcomes
	// Spent is the money the feedback events say was spent, by currency;
	// Budget the playbook's budget of the alerts with an outcome.
	Spent  map[string]float64 `json:"spent"`
	Budget map[string]float64 `json:"budget"`
	// OutcomeMedianSeconds is the median time from an alert's detected_at
	// to its outcome.
	OutcomeMedianSeconds *float64 `json:"time_to_outcome_median_seconds"`
}

// Outcome returns how many alerts have outcome o.
func (o Outcomes) Outcome(name string) int { return o.Outcomes[name] }

// Total is the number of alerts with an outcome.
func (o Outcomes) Total() int {
	n := 0
	for _, v := range o.Outcomes {
		n += v
	}
	return n
}

// LeadBucket is one bar of a lead-time distribution: the complainers whose
// lead time (first alert to first complaint) was in [From, To) seconds.
type LeadBucket struct {
	Label string  `json:"label"`
	From  float64 `json:"from_seconds"`
	To    float64 `json:"to_seconds"` // 0: no upper bound
	Count int     `json:"count"`
}

// leadEdges are the lead-time distribution's bucket bounds, in hours.
var leadEdges = []struct {
	label string
	to    float64
}{{"under 1 h", 1}, {"1–6 h", 6}, {"6–24 h", 24}, {"1–3 days", 72}, {"3–7 days", 168}, {"7 days or more", 0}}

// Detector is the evaluation of one detector (or, in Totals, of all).
type Detector struct {
	Outcomes
	// FlaggedBefore counts the complainers this detector flagged before
	// their first complaint, within alerting.lookback; Coverage is that
	// share of all complainers.
	FlaggedBefore     int                  `json:"flagged_before_complaint"`
	Coverage          float64              `json:"complaint_coverage"`
	LeadMedianSeconds float64              `json:"lead_time_median_seconds"`
	LeadP90Seconds    float64              `json:"lead_time_p90_seconds"`
	LeadTimes         []LeadBucket         `json:"lead_time_distribution"`
	FlaggedCustomers  int                  `json:"flagged_customers"`
	SilentReach       int                  `json:"silent_reach"` // flagged customers who never complained
	Severities        map[string]*Outcomes `json:"severities"`   // minor, major, critical
}

// Totals are the figures over all alerts, and the replay's counts.
type Totals struct {
	Detector
	Events           int                `json:"events"`
	Invalid          int                `json:"invalid"`
	Duplicates       int                `json:"duplicates"`
	Customers        int64              `json:"customers"` // distinct customers in the input
	Days             float64            `json:"days"`      // from the first event to the last, at least 1
	AlertsBySeverity map[string]int     `json:"alerts_by_severity"`
	AlertsPer1000Day map[string]float64 `json:"alerts_per_1000_customers_per_day"`
	Complainers      int                `json:"complainers"`
	FeedbackEvents   int                `json:"feedback_events"`  // applied
	FeedbackInvalid  int                `json:"feedback_invalid"` // malformed: in the DLQ
	FeedbackUnknown  int                `json:"feedback_unknown"` // naming an unknown alert: in the DLQ
}

// Day is the alerts detected on one UTC day, by severity.
type Day struct {
	Date     string `json:"date"` // YYYY-MM-DD
	Minor    int    `json:"minor"`
	Major    int    `json:"major"`
	Critical int    `json:"critical"`
}

// Total is the day's alerts.
func (d Day) Total() int { return d.Minor + d.Major + d.Critical }

// FlaggedCustomer is one of the customers flagged most.
type FlaggedCustomer struct {
	CustomerID string `json:"customer_id"`
	Alerts     int    `json:"alerts"`
	Complained bool   `json:"complained"`
}

// Report is the evaluation of a replay (docs/reference.md, "The replay
// report"): what `replay --report`, `--report-json` and `--report-html`
// show. It is computed by (*Summary).Report.
type Report struct {
	Detectors map[string]*Detector `json:"detectors"` // every configured detector, and any other that alerted
	Totals    Totals               `json:"totals"`
	// FeedbackGiven is whether --feedback was given (else the outcome
	// figures are empty, not zero).
	FeedbackGiven bool `json:"feedback_given"`
	// CapacityPerDay is alerting.max_per_hour × 24; 0 = no capacity set.
	CapacityPerDay int               `json:"capacity_per_day"`
	Daily          []Day             `json:"daily"`         // every day from the first alert to the last
	TopCustomers   []FlaggedCustomer `json:"top_customers"` // the 10 flagged most (customer data)
	// First and Last are the event times of the first and last events
	// replayed (zero without events).
	First time.Time `json:"first_event"`
	Last  time.Time `json:"last_event"`
	// Order is the detectors' names in configuration order, then any
	// other that alerted, in order of its first alert.
	Order []string `json:"detector_order"`
	// Hotspots are the hotspot episodes that opened (in the window), in
	// order of opening; empty without hotspot rules.
	Hotspots []*ReportHotspot `json:"hotspots"`
}

// TopCustomersN is how many customers Report.TopCustomers lists.
const TopCustomersN = 10

// Report computes the evaluation of the whole replay. It may be called
// more than once.
func (s *Summary) Report() Report { return s.ReportWindow(time.Time{}, time.Time{}) }

// ReportWindow computes the evaluation of the alerts detected (detected_at)
// in [from, to) and the complainers whose first complaint falls in it; a
// zero bound is open. An alert before from does not cover a complaint in
// the window: a window scores what happened in it (`tune` scores a
// held-out later period this way). Events, Invalid, Duplicates, Customers
// and the feedback counts stay the whole replay's; Days is the window's
// part of the replayed period.
func (s *Summary) ReportWindow(from, to time.Time) Report {
	e := &s.eval
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	if !from.IsZero() {
		lo = from.UnixNano()
	}
	if !to.IsZero() {
		hi = to.UnixNano()
	}
	in := func(t int64) bool { return t >= lo && t < hi }
	r := Report{Detectors: map[string]*Detector{}, FeedbackGiven: e.feedback, CapacityPerDay: e.capacity, First: s.First, Last: s.Last}
	t := &r.Totals
	t.Events, t.Invalid, t.Duplicates, t.Customers = s.Events, s.Invalid, s.Duplicates, s.Customers
	t.AlertsBySeverity, t.AlertsPer1000Day = map[string]int{}, map[string]float64{}
	for _, ct := range e.complained {
		if in(ct) {
			t.Complainers++
		}
	}
	t.FeedbackEvents, t.FeedbackInvalid, t.FeedbackUnknown = e.fbEvents, e.fbInvalid, e.fbUnknown
	start, end := s.First, s.Last
	if !from.IsZero() && from.After(start) {
		start = from
	}
	if !to.IsZero() && to.Before(end) {
		end = to
	}
	t.Days = round3(math.Max(end.Sub(start).Hours()/24, 1))
	var bySev [4]int
	for i := range e.alerts {
		if in(e.alerts[i].detected) {
			bySev[e.alerts[i].sev]++
		}
	}
	for sev := alerts.Minor; sev <= alerts.Critical; sev++ {
		t.AlertsBySeverity[sev.String()] = bySev[sev]
		if s.Customers > 0 {
			t.AlertsPer1000Day[sev.String()] = round3(float64(bySev[sev]) * 1000 / float64(s.Customers) / t.Days)
		}
	}

	// Outcomes, per detector and severity.
	n := len(e.dets)
	per := make([]outcomeAcc, n)
	perSev := make([][4]outcomeAcc, n)
	var all outcomeAcc
	var allSev [4]outcomeAcc
	for i := range e.alerts {
		a := &e.alerts[i]
		if !in(a.detected) {
			continue
		}
		for _, acc := range []*outcomeAcc{&per[a.det], &perSev[a.det][a.sev], &all, &allSev[a.sev]} {
			acc.add(a)
		}
	}

	// Coverage and lead time: per complainer, the earliest alert of each
	// detector (and of any) within the lookback before the first complaint.
	leads := make([][]float64, n)
	var allLeads []float64
	first := make([]int64, n)
	for cust, ct := range e.complained {
		if !in(ct) {
			continue
		}
		anyAt := int64(math.MaxInt64)
		for d := range first {
			first[d] = math.MaxInt64
		}
		for _, i := range e.byCust[cust] {
			a := &e.alerts[i]
			if in(a.detected) && a.t <= ct && ct-a.t <= e.lookback {
				first[a.det] = min(first[a.det], a.t)
				anyAt = min(anyAt, a.t)
			}
		}
		for d, at := range first {
			if at != math.MaxInt64 {
				leads[d] = append(leads[d], float64(ct-at)/1e9)
			}
		}
		if anyAt != math.MaxInt64 {
			allLeads = append(allLeads, float64(ct-anyAt)/1e9)
		}
	}
	// Flagged customers and silent reach, per detector.
	flagged := make([]int, n)
	silent := make([]int, n)
	flaggedBy := make([]bool, n)
	var top []FlaggedCustomer
	for cust, is := range e.byCust {
		clear(flaggedBy)
		count := 0
		for _, i := range is {
			if in(e.alerts[i].detected) {
				flaggedBy[e.alerts[i].det] = true
				count++
			}
		}
		if count == 0 {
			continue
		}
		_, complained := e.complained[cust]
		for d, f := range flaggedBy {
			if f {
				flagged[d]++
				if !complained {
					silent[d]++
				}
			}
		}
		if !complained {
			t.SilentReach++
		}
		t.FlaggedCustomers++
		top = append(top, FlaggedCustomer{CustomerID: cust, Alerts: count, Complained: complained})
	}
	slices.SortFunc(top, func(a, b FlaggedCustomer) int {
		return cmp.Or(cmp.Compare(b.Alerts, a.Alerts), cmp.Compare(a.CustomerID, b.CustomerID))
	})
	r.TopCustomers = top[:min(len(top), TopCustomersN)]

	fill := func(d *Detector, acc *outcomeAcc, sev *[4]outcomeAcc, leads []float64) {
		d.Outcomes = acc.figures(e.feedback)
		d.Severities = map[string]*Outcomes{}
		for s := alerts.Minor; s <= alerts.Critical; s++ {
			o := sev[s].figures(e.feedback)
			d.Severities[s.String()] = &o
		}
		d.FlaggedBefore = len(leads)
		if t.Complainers > 0 {
			d.Coverage = round3(float64(len(leads)) / float64(t.Complainers))
		}
		slices.Sort(leads)
		d.LeadMedianSeconds = quantile(leads, 0.5)
		d.LeadP90Seconds = quantile(leads, 0.9)
		d.LeadTimes = leadDistribution(leads)
	}
	for i, name := range e.dets {
		d := &Detector{FlaggedCustomers: flagged[i], SilentReach: silent[i]}
		fill(d, &per[i], &perSev[i], leads[i])
		r.Detectors[name] = d
	}
	fill(&t.Detector, &all, &allSev, allLeads)
	r.Order = slices.Clone(e.dets)
	r.Hotspots = s.hs.report(e.tagged, lo, hi)

	// Alerts per day, by detection day (UTC).
	if t.Alerts > 0 {
		const dayNs = int64(24 * time.Hour)
		d0, d1 := int64(math.MaxInt64), int64(math.MinInt64)
		for i := range e.alerts {
			if in(e.alerts[i].detected) {
				day := e.alerts[i].detected / dayNs
				d0, d1 = min(d0, day), max(d1, day)
			}
		}
		r.Daily = make([]Day, d1-d0+1)
		for i := range r.Daily {
			r.Daily[i].Date = time.Unix(0, (d0+int64(i))*dayNs).UTC().Format(time.DateOnly)
		}
		for i := range e.alerts {
			if !in(e.alerts[i].detected) {
				continue
			}
			d := &r.Daily[e.alerts[i].detected/dayNs-d0]
			switch e.alerts[i].sev {
			case alerts.Minor:
				d.Minor++
			case alerts.Major:
				d.Major++
			case alerts.Critical:
				d.Critical++
			}
		}
	}
	return r
}

// outcomeAcc sums the outcomes of a set of alerts.
type outcomeAcc struct {
	alerts, feedback int
	outcomes         map[string]int
	spent, budget    map[string]float64
	toOutcome        []float64
}

func (c *outcomeAcc) add(a *alertRec) {
	c.alerts++
	if a.feedback {
		c.feedback++
	}
	if c.spent == nil {
		c.outcomes, c.spent, c.budget = map[string]int{}, map[string]float64{}, map[string]float64{}
	}
	for _, m := range a.spent {
		c.spent[m.Currency] += m.Amount
	}
	if a.outcome != "" {
		c.outcomes[a.outcome]++
		c.budget[a.currency] += a.budget
		c.toOutcome = append(c.toOutcome, float64(a.outcomeAt-a.detected)/1e9)
	}
}

func (c *outcomeAcc) figures(given bool) Outcomes {
	o := Outcomes{Alerts: c.alerts, Feedback: c.feedback, Outcomes: map[string]int{}, Spent: map[string]float64{}, Budget: map[string]float64{}}
	if c.alerts > 0 {
		o.FeedbackShare = round3(float64(c.feedback) / float64(c.alerts))
	}
	for _, k := range []string{event.FeedbackRecovered, event.FeedbackDeclined, event.FeedbackUnreachable, event.FeedbackFalseAlarm} {
		o.Outcomes[k] = c.outcomes[k]
	}
	for k, v := range c.spent {
		o.Spent[k] = round3(v)
	}
	for k, v := range c.budget {
		o.Budget[k] = round3(v)
	}
	total := len(c.toOutcome)
	if !given || total == 0 {
		return o
	}
	ratio := func(n int) *float64 { v := round3(float64(n) / float64(total)); return &v }
	o.Precision = ratio(total - c.outcomes[event.FeedbackFalseAlarm])
	o.RecoveryRate = ratio(c.outcomes[event.FeedbackRecovered])
	o.UnreachableShare = ratio(c.outcomes[event.FeedbackUnreachable])
	slices.Sort(c.toOutcome)
	med := quantile(c.toOutcome, 0.5)
	o.OutcomeMedianSeconds = &med
	return o
}

func leadDistribution(sorted []float64) []LeadBucket {
	out := make([]LeadBucket, len(leadEdges))
	from := 0.0
	for i, e := range leadEdges {
		out[i] = LeadBucket{Label: e.label, From: from * 3600, To: e.to * 3600}
		from = e.to
	}
	for _, l := range sorted {
		i := 0
		for i < len(out)-1 && l >= out[i].To {
			i++
		}
		out[i].Count++
	}
	return out
}

// quantile is the nearest-rank quantile of sorted values (0 when empty).
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(math.Ceil(q*float64(len(sorted))))-1]
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// WriteJSON writes the report as one JSON object (--report-json).
func (r *Report) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("replay: encode report: %w", err)
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("replay: write report: %w", err)
	}
	return nil
}

// WriteReport prints the report for people, then its totals (Report.Totals,
// as in --report-json) as one JSON object on the last line.
func (s *Summary) WriteReport(w io.Writer) error {
	r := s.Report()
	t := &r.Totals
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "peakend replay report\n")
	fmt.Fprintf(bw, "  events          %d (invalid %d, duplicates %d), %d customers over %.1f days\n",
		t.Events, t.Invalid, t.Duplicates, t.Customers, t.Days)
	fmt.Fprintf(bw, "  alerts          minor %d, major %d, critical %d\n", t.AlertsBySeverity["minor"], t.AlertsBySeverity["major"], t.AlertsBySeverity["critical"])
	fmt.Fprintf(bw, "  alert load      per 1,000 customers per day: minor %.3g, major %.3g, critical %.3g\n",
		t.AlertsPer1000Day["minor"], t.AlertsPer1000Day["major"], t.AlertsPer1000Day["critical"])
	if t.Complainers > 0 {
		fmt.Fprintf(bw, "  coverage        %d of %d complainers flagged before their first complaint (%.1f%%)\n",
			t.FlaggedBefore, t.Complainers, 100*t.Coverage)
		fmt.Fprintf(bw, "  lead time       median %s, p90 %s\n", seconds(t.LeadMedianSeconds), seconds(t.LeadP90Seconds))
	} else {
		fmt.Fprintf(bw, "  coverage        no complaints given (--complaints)\n")
	}
	fmt.Fprintf(bw, "  silent reach    %d flagged customers never complained\n", t.SilentReach)
	if !r.FeedbackGiven {
		fmt.Fprintf(bw, "  precision       give --feedback FILE.jsonl (the desk's feedback events) for precision and recovery rate\n")
	} else if t.Total() == 0 {
		fmt.Fprintf(bw, "  precision       no outcome recorded for any alert (%d feedback events applied)\n", t.FeedbackEvents)
	} else {
		fmt.Fprintf(bw, "  precision       %s (false alarms: %d of %d outcomes), recovery rate %s, unreachable %s\n",
			pct(t.Precision), t.Outcome(event.FeedbackFalseAlarm), t.Total(), pct(t.RecoveryRate), pct(t.UnreachableShare))
		fmt.Fprintf(bw, "  feedback        on %d of %d alerts (%.1f%%); outcome a median %s after the alert; spent %s of %s budget\n",
			t.Feedback, t.Alerts, 100*t.FeedbackShare, seconds(*t.OutcomeMedianSeconds), money(t.Spent), money(t.Budget))
	}
	if t.FeedbackInvalid+t.FeedbackUnknown > 0 {
		fmt.Fprintf(bw, "  bad feedback    malformed %d, naming an unknown alert %d (in the DLQ)\n", t.FeedbackInvalid, t.FeedbackUnknown)
	}
	fmt.Fprintf(bw, "  by detector     %-*s %7s %9s %12s %10s %10s %10s\n", nameWidth(r.Order), "", "alerts", "coverage", "lead median", "feedback", "precision", "recovery")
	for _, name := range r.Order {
		d := r.Detectors[name]
		var share *float64
		if r.FeedbackGiven {
			share = &d.FeedbackShare
		}
		lead := "-"
		if d.FlaggedBefore > 0 {
			lead = seconds(d.LeadMedianSeconds)
		}
		fmt.Fprintf(bw, "                  %-*s %7d %8.1f%% %12s %10s %10s %10s\n", nameWidth(r.Order), name, d.Alerts, 100*d.Coverage,
			lead, pct(share), pct(d.Precision), pct(d.RecoveryRate))
	}
	if line := s.hs.line(); line != "" {
		fmt.Fprintf(bw, "  hotspots        %s\n", line)
	}
	b, _ := json.Marshal(r.Totals)
	bw.Write(b)
	bw.WriteByte('\n')
	return bw.Flush()
}

func nameWidth(names []string) int {
	w := 8
	for _, n := range names {
		w = max(w, len(n))
	}
	return w
}

// seconds formats a duration given in seconds, to the minute.
func seconds(v float64) string {
	return time.Duration(v * 1e9).Round(time.Minute).String()
}

// pct formats a ratio as a percentage, or "-" when there is none.
func pct(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100**v)
}

// money formats amounts by currency, in currency order ("0" when none).
func money(m map[string]float64) string {
	if len(m) == 0 {
		return "0"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = strings.TrimSpace(fmt.Sprintf("%.2f %s", m[k], k))
	}
	return strings.Join(parts, " + ")
}
