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
	"time"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/engine"
	"github.com/peakend/peakend/event"
)

type complaint struct {
	t    int64
	line int
	raw  []byte
	cust string
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
	ev.complaint(c.cust, c.t)
	return pt.Complaint(&engine.Record{Topic: "complaints", Offset: int64(c.line), Value: c.raw})
}

// evaluation tracks docs/reference.md, "The replay report" over a replay.
type evaluation struct {
	lookback   int64
	firstAlert map[string][]int64 // customer → event times of their alerts, ascending by processing
	complained map[string]int64   // customer → first complaint
}

func (e *evaluation) init(cfg *config.Config) {
	e.lookback = int64(cfg.Alerting.Lookback)
	e.firstAlert = map[string][]int64{}
	e.complained = map[string]int64{}
}

func (e *evaluation) alert(a *alerts.Alert) {
	e.firstAlert[a.CustomerID] = append(e.firstAlert[a.CustomerID], a.EventTime.UnixNano())
}

func (e *evaluation) complaint(cust string, t int64) {
	if old, ok := e.complained[cust]; !ok || t < old {
		e.complained[cust] = t
	}
}

// Report is the evaluation of a replay (docs/reference.md, "The replay report").
type Report struct {
	Events            int                `json:"events"`
	Invalid           int                `json:"invalid"`
	Duplicates        int                `json:"duplicates"`
	Customers         int64              `json:"customers"`
	Days              float64            `json:"days"`
	Alerts            map[string]int     `json:"alerts"`
	AlertsPer1000Day  map[string]float64 `json:"alerts_per_1000_customers_per_day"`
	Complainers       int                `json:"complainers"`
	FlaggedBefore     int                `json:"flagged_before_complaint"`
	Coverage          float64            `json:"complaint_coverage"`
	LeadMedianSeconds float64            `json:"lead_time_median_seconds"`
	LeadP90Seconds    float64            `json:"lead_time_p90_seconds"`
	FlaggedCustomers  int                `json:"flagged_customers"`
	SilentReach       int                `json:"silent_reach"`
	Precision         *float64           `json:"precision"` // needs staff feedback (not read yet): null
}

// Report computes the evaluation.
func (s *Summary) Report() Report {
	r := Report{Events: s.Events, Invalid: s.Invalid, Duplicates: s.Duplicates, Customers: s.Customers,
		Alerts: map[string]int{}, AlertsPer1000Day: map[string]float64{}, Complainers: len(s.eval.complained),
		FlaggedCustomers: len(s.eval.firstAlert)}
	r.Days = math.Max(s.Last.Sub(s.First).Hours()/24, 1)
	for sev := alerts.Minor; sev <= alerts.Critical; sev++ {
		r.Alerts[sev.String()] = s.Alerts[sev]
		if s.Customers > 0 {
			r.AlertsPer1000Day[sev.String()] = round3(float64(s.Alerts[sev]) * 1000 / float64(s.Customers) / r.Days)
		}
	}
	var leads []float64
	for cust, ct := range s.eval.complained {
		for _, at := range s.eval.firstAlert[cust] {
			if at <= ct && ct-at <= s.eval.lookback {
				leads = append(leads, float64(ct-at)/1e9)
				break
			}
		}
	}
	r.FlaggedBefore = len(leads)
	if r.Complainers > 0 {
		r.Coverage = round3(float64(r.FlaggedBefore) / float64(r.Complainers))
	}
	slices.Sort(leads)
	r.LeadMedianSeconds = quantile(leads, 0.5)
	r.LeadP90Seconds = quantile(leads, 0.9)
	for cust := range s.eval.firstAlert {
		if _, ok := s.eval.complained[cust]; !ok {
			r.SilentReach++
		}
	}
	return r
}

func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(math.Ceil(q*float64(len(sorted))))-1]
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// WriteReport prints the report for people, and as JSON on the last line.
func (s *Summary) WriteReport(w io.Writer) error {
	r := s.Report()
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "peakend replay report\n")
	fmt.Fprintf(bw, "  events          %d (invalid %d, duplicates %d), %d customers over %.1f days\n",
		r.Events, r.Invalid, r.Duplicates, r.Customers, r.Days)
	fmt.Fprintf(bw, "  alerts          minor %d, major %d, critical %d\n", r.Alerts["minor"], r.Alerts["major"], r.Alerts["critical"])
	fmt.Fprintf(bw, "  alert load      per 1,000 customers per day: minor %.3g, major %.3g, critical %.3g\n",
		r.AlertsPer1000Day["minor"], r.AlertsPer1000Day["major"], r.AlertsPer1000Day["critical"])
	if r.Complainers > 0 {
		fmt.Fprintf(bw, "  coverage        %d of %d complainers flagged before their first complaint (%.1f%%)\n",
			r.FlaggedBefore, r.Complainers, 100*r.Coverage)
		fmt.Fprintf(bw, "  lead time       median %s, p90 %s\n", time.Duration(r.LeadMedianSeconds*1e9).Round(time.Minute),
			time.Duration(r.LeadP90Seconds*1e9).Round(time.Minute))
	} else {
		fmt.Fprintf(bw, "  coverage        no complaints given (--complaints)\n")
	}
	fmt.Fprintf(bw, "  silent reach    %d flagged customers never complained\n", r.SilentReach)
	fmt.Fprintf(bw, "  precision       needs staff feedback, which peakend does not read yet\n")
	if line := s.hs.line(); line != "" {
		fmt.Fprintf(bw, "  hotspots        %s\n", line)
	}
	b, _ := json.Marshal(r)
	bw.Write(b)
	bw.WriteByte('\n')
	return bw.Flush()
}
