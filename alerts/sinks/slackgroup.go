package sinks

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/peakend/peakend/alerts"
)

// DefaultGroupFor is how often at most a Slack sink posts one hotspot's
// grouped customer alerts (the sink's group_for).
const DefaultGroupFor = 10 * time.Minute

// HotspotStatus tells a Slack sink what the desk knows of a hotspot, by
// its hotspot_id: its name and attribute values ("" and nil if unknown)
// and whether a supervisor muted it. It must be safe for concurrent use.
type HotspotStatus func(hotspotID string) (name string, values map[string]string, muted bool)

// GroupHotspots makes s post the customer alerts that carry a hotspot_id
// as one message per hotspot, at most once per every (0: one by one, the
// default), through an outbox that sees s as an alerts.GroupingSink.
// status (nil: none) names the hotspot and mutes it. It returns s; call it
// before delivery starts.
func (s *Slack) GroupHotspots(every time.Duration, status HotspotStatus) *Slack {
	s.groupFor, s.status = every, status
	return s
}

// Group implements alerts.GroupingSink: a customer alert with a
// hotspot_id is in its hotspot's group, when grouping is on.
func (s *Slack) Group(a *alerts.Alert) (string, time.Duration) {
	if s.groupFor <= 0 || a.HotspotID == "" || a.Kind == alerts.KindHotspot {
		return "", 0
	}
	return a.HotspotID, s.groupFor
}

// DeliverGroup implements alerts.GroupingSink: one message for a
// hotspot's customer alerts (see slackGroupMessage), or alerts.ErrMuted,
// posting nothing, while the desk has the hotspot muted.
func (s *Slack) DeliverGroup(ctx context.Context, hotspotID string, as []*alerts.Alert) error {
	for _, a := range as {
		if err := checkAlert(s.name, a); err != nil {
			return err
		}
	}
	var name string
	var values map[string]string
	if s.status != nil {
		var muted bool
		name, values, muted = s.status(hotspotID)
		if muted {
			return alerts.ErrMuted
		}
	}
	link := ""
	if len(as) > 0 {
		link = hotspotLink(s.deskURL, as[0])
	}
	body, err := marshal(s.name, slackGroupMessage(hotspotID, name, values, as, link))
	if err != nil {
		return err
	}
	return s.p.post(ctx, s.ep, body, nil)
}

// slackGroupList bounds the customers a group message names.
const slackGroupList = 20

// slackGroupMessage is one message for a hotspot's customer alerts: where
// it is, how many customers (by severity), the first slackGroupList of
// them (most severe first) and a link to the hotspot on the desk.
func slackGroupMessage(hotspotID, name string, values map[string]string, as []*alerts.Alert, link string) slackMessage {
	// One line per customer, at the worst severity their alerts had.
	type cust struct {
		id, detector string
		sev          alerts.Severity
	}
	seen := map[string]int{}
	var cs []cust
	for _, a := range as {
		if i, ok := seen[a.CustomerID]; ok {
			if a.Severity > cs[i].sev {
				cs[i].sev, cs[i].detector = a.Severity, a.Detector
			}
			continue
		}
		seen[a.CustomerID] = len(cs)
		cs = append(cs, cust{a.CustomerID, a.Detector, a.Severity})
	}
	slices.SortStableFunc(cs, func(x, y cust) int {
		return cmp.Or(cmp.Compare(y.sev, x.sev), cmp.Compare(x.id, y.id))
	})
	bySev := map[alerts.Severity]int{}
	for _, c := range cs {
		bySev[c.sev]++
	}
	var counts []string
	for _, sv := range []alerts.Severity{alerts.Critical, alerts.Major, alerts.Minor} {
		if n := bySev[sv]; n > 0 {
			counts = append(counts, fmt.Sprintf("%d %s", n, sv))
		}
	}
	where := "hotspot " + hotspotID
	if len(values) > 0 {
		where = hotspotWhere(&alerts.HotspotInfo{Values: values})
	}
	noun := "customers"
	if len(cs) == 1 {
		noun = "customer"
	}
	summary := fmt.Sprintf("%s: %d more %s (%s)", where, len(cs), noun, strings.Join(counts, ", "))
	msg := slackMessage{Text: truncate(slackEscape("[HOTSPOT] "+summary), slackTextMax)}
	title := ":busts_in_silhouette: HOTSPOT · " + fmt.Sprintf("%d more %s", len(cs), noun)
	if name != "" {
		title += " · " + name
	}
	msg.Blocks = append(msg.Blocks, slackBlock{Type: "header",
		Text: &slackText{Type: "plain_text", Text: truncate(title, slackHeaderMax), Emoji: true}})
	msg.Blocks = append(msg.Blocks, slackBlock{Type: "section", Text: mrkdwn("*"+slackEscape(summary)+"*\n"+
		"Customer alerts of an open hotspot, gathered in one message: each is on the desk; fix the cause at the source.", slackTextMax)})
	lines := make([]string, 0, min(len(cs), slackGroupList)+1)
	for i, c := range cs {
		if i == slackGroupList {
			lines = append(lines, fmt.Sprintf("… and %d more on the desk", len(cs)-slackGroupList))
			break
		}
		lines = append(lines, "• "+slackEscape(c.id)+" · "+strings.ToUpper(c.sev.String())+" · "+slackEscape(c.detector))
	}
	msg.Blocks = append(msg.Blocks, slackBlock{Type: "context", Elements: []slackInner{
		{Type: "mrkdwn", Text: truncate(strings.Join(lines, "\n"), slackTextMax)},
	}})
	note := fmt.Sprintf("hotspot_id `%s` · %d alerts", slackEscape(hotspotID), len(as))
	msg.Blocks = append(msg.Blocks, slackBlock{Type: "context", Elements: []slackInner{
		{Type: "mrkdwn", Text: truncate(note, slackTextMax)},
	}})
	msg.Blocks = appendButton(msg.Blocks, link, "Hotspot on the desk", "open_hotspot")
	return msg
}
