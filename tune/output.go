package tune

import (
	"bytes"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/internal/human"
)

// WriteYAML writes the recommended detectors, and alerting.cooldown if it
// differs from the current one, as a configuration file that config.Load
// reads (every other section at its default): the part to copy into the
// real configuration.
func (r *Result) WriteYAML(w io.Writer) error {
	rec := r.Recommended.Config
	withCooldown := rec.Alerting.Cooldown != r.Current.Config.Alerting.Cooldown
	body, err := detectorsYAML(rec, withCooldown)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# peakend tune: the recommended setting (#%d of %d tried: %s),\n", r.Recommended.N, len(r.Settings), r.Recommended.Label)
	fmt.Fprintf(&b, "# chosen on %s .. %s, checked on the held-out %s .. %s.\n",
		day(r.Start), day(r.Split), day(r.Split), day(r.End))
	if withCooldown {
		b.WriteString("# Copy the detectors list and alerting.cooldown into your configuration.\n")
	} else {
		b.WriteString("# Copy the detectors list into your configuration (alerting.cooldown is unchanged).\n")
	}
	b.Write(body)
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("tune: write yaml: %w", err)
	}
	return nil
}

// detectorsYAML renders c's detectors (one flow mapping each, only the
// fields set) and, with cooldown, alerting.cooldown.
func detectorsYAML(c *config.Config, cooldown bool) ([]byte, error) {
	root := &yaml.Node{Kind: yaml.MappingNode}
	list := &yaml.Node{Kind: yaml.SequenceNode}
	for i := range c.Detectors {
		n, err := fieldsNode(reflect.ValueOf(c.Detectors[i]))
		if err != nil {
			return nil, err
		}
		n.Style = yaml.FlowStyle
		list.Content = append(list.Content, n)
	}
	root.Content = append(root.Content, scalar("detectors"), list)
	if cooldown {
		al := &yaml.Node{Kind: yaml.MappingNode}
		al.Content = append(al.Content, scalar("cooldown"), scalar(c.Alerting.Cooldown.String()))
		root.Content = append(root.Content, scalar("alerting"), al)
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("tune: yaml: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("tune: yaml: %w", err)
	}
	return b.Bytes(), nil
}

func scalar(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: s} }

// fieldsNode renders a struct's non-zero yaml fields, in declaration order.
func fieldsNode(v reflect.Value) (*yaml.Node, error) {
	n := &yaml.Node{Kind: yaml.MappingNode}
	t := v.Type()
	for i := range t.NumField() {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		f := v.Field(i)
		if tag == "" || tag == "-" || f.IsZero() {
			continue
		}
		if f.Kind() == reflect.Pointer {
			f = f.Elem()
		}
		var val *yaml.Node
		if f.Kind() == reflect.Struct {
			sub, err := fieldsNode(f)
			if err != nil {
				return nil, err
			}
			sub.Style = yaml.FlowStyle
			val = sub
		} else {
			val = &yaml.Node{}
			if err := val.Encode(f.Interface()); err != nil {
				return nil, fmt.Errorf("tune: yaml %s: %w", tag, err)
			}
			if val.Kind == yaml.SequenceNode {
				val.Style = yaml.FlowStyle
			}
		}
		n.Content = append(n.Content, scalar(tag), val)
	}
	return n, nil
}

func day(t time.Time) string { return t.Format("2006-01-02 15:04") }

// WriteTable prints the settings tried, the choice, and the held-out check.
func (r *Result) WriteTable(w io.Writer) error {
	var b bytes.Buffer
	hasFeed := false
	for _, s := range r.Settings {
		hasFeed = hasFeed || s.Tune.WithFeed > 0 || s.Held.WithFeed > 0
	}
	tuneDays := r.Split.Sub(r.Start).Hours() / 24
	heldDays := r.End.Sub(r.Split).Hours() / 24
	fmt.Fprintf(&b, "peakend tune: %s events; tuned on %s .. %s (%.1f days), held out %s .. %s (%.1f days)\n",
		human.Number(float64(r.Events)), day(r.Start), day(r.Split), tuneDays, day(r.Split), day(r.End), heldDays)
	if r.Capacity > 0 {
		fmt.Fprintf(&b, "capacity: %s alerts per day\n", num(r.Capacity))
	} else {
		fmt.Fprintf(&b, "capacity: unlimited (alerting.max_per_hour is 0 and --capacity was not given)\n")
	}
	if r.Traces > 0 {
		fmt.Fprintf(&b, "%d settings tried (one detector at a time around the current configuration), judged in %s of the history\n",
			len(r.Settings), plural(r.Traces, "replay"))
	} else {
		fmt.Fprintf(&b, "%d settings tried (one detector at a time around the current configuration, %d replays at once)\n",
			len(r.Settings), r.Workers)
	}
	if r.Truncated {
		fmt.Fprintf(&b, "stopped at --max-settings: the detectors not reached keep their current settings\n")
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "tuning period:\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "#\tsetting\talerts/day\tcoverage\tlead (median)\tprecision\tfeedback\tfits\t\n")
	for _, s := range r.Settings {
		mark := ""
		if s == r.Chosen {
			mark = " *"
		}
		fmt.Fprintf(tw, "%d%s\t%s\t%s\n", s.N, mark, s.Label, row(s.Tune))
	}
	tw.Flush()
	fmt.Fprintf(&b, "\n* chosen on the tuning period: #%d (%s)\n\n", r.Chosen.N, r.Chosen.Label)
	fmt.Fprintf(&b, "held out (the last %.1f days, not used to choose):\n", heldDays)
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "\tsetting\talerts/day\tcoverage\tlead (median)\tprecision\tfeedback\tfits\t\n")
	fmt.Fprintf(tw, "current\t#%d\t%s\n", r.Current.N, row(r.Current.Held))
	fmt.Fprintf(tw, "chosen\t#%d\t%s\n", r.Chosen.N, row(r.Chosen.Held))
	tw.Flush()
	b.WriteString("\n")
	switch {
	case r.Chosen == r.Current:
		fmt.Fprintf(&b, "recommendation: keep the current settings (no neighbour did better on the tuning period)\n")
	case r.KeptCurrent:
		fmt.Fprintf(&b, "recommendation: keep the current settings: #%d did better on the tuning period but worse on the held-out one\n", r.Chosen.N)
	default:
		fmt.Fprintf(&b, "recommendation: #%d; changed: %s\n", r.Recommended.N, strings.Join(r.Changes(), "; "))
	}
	if !r.Recommended.Tune.Fits {
		fmt.Fprintf(&b, "note: no setting tried fits the capacity; this one's alerts, as many as the frontline can take, reach the most complainers\n")
	}
	if !r.Recommended.Held.Fits {
		fmt.Fprintf(&b, "warning: the recommended setting exceeds the capacity on the held-out period\n")
	}
	if !hasFeed {
		fmt.Fprintf(&b, "precision: no feedback for these alerts (--feedback FILE)\n")
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("tune: write table: %w", err)
	}
	return nil
}

func row(s Score) string {
	cov, lead, prec := "-", "-", "-"
	if s.Complainers > 0 {
		cov = fmt.Sprintf("%.1f%% (%d/%d)", 100*s.Coverage, s.Flagged, s.Complainers)
	}
	if s.Flagged > 0 {
		lead = human.Duration(s.LeadMedian)
	}
	if s.Outcomes > 0 {
		prec = fmt.Sprintf("%.1f%%", 100*s.Precision)
	}
	fits := "yes"
	if !s.Fits {
		fits = "no"
	}
	return fmt.Sprintf("%.1f\t%s\t%s\t%s\t%.0f%%\t%s\t", s.PerDay, cov, lead, prec, 100*s.FeedShare, fits)
}

// Changes lists what the recommendation changes from the current
// configuration: each changed detector's new setting, and the cooldown.
func (r *Result) Changes() []string {
	cur, rec := r.Current.Config, r.Recommended.Config
	var out []string
	for i := range rec.Detectors {
		a, _ := detectorsYAML(&config.Config{Detectors: cur.Detectors[i : i+1]}, false)
		b, _ := detectorsYAML(&config.Config{Detectors: rec.Detectors[i : i+1]}, false)
		if !bytes.Equal(a, b) {
			out = append(out, describe(&rec.Detectors[i]))
		}
	}
	if cur.Alerting.Cooldown != rec.Alerting.Cooldown {
		out = append(out, "alerting.cooldown "+cur.Alerting.Cooldown.String()+" → "+rec.Alerting.Cooldown.String())
	}
	return out
}

func describe(d *config.Detector) string {
	if d.Type == config.TypeBaseline {
		return d.Name + " factor " + num(d.Factor)
	}
	return d.Name + " " + describeCutoffs(d)
}

// plural is "1 replay" or "n replays".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}
