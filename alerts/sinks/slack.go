package sinks

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/peakend/peakend/alerts"
)

// Slack posts alerts to a Slack incoming webhook as a Block Kit message:
// header (severity and detector), reason, customer fields, short evidence,
// the recovery action, the alert_id and a link to the recovery desk, with a
// plain-text fallback for notifications. Safe for concurrent use.
type Slack struct {
	name    string
	ep      endpoint
	deskURL string
	p       poster

	groupFor time.Duration // GroupHotspots
	status   HotspotStatus
}

// NewSlack returns a Slack sink for an incoming-webhook URL (a secret: errors
// name only its scheme and host). deskURL is the recovery desk's base URL;
// "" uses the alert's own desk_url, if any. client nil means a 10s-timeout
// client that does not follow redirects.
func NewSlack(name, url, deskURL string, client *http.Client) (*Slack, error) {
	if name == "" {
		name = "slack"
	}
	ep, err := parseEndpoint("slack", name, url)
	if err != nil {
		return nil, err
	}
	if client == nil {
		client = defaultClient(0)
	}
	return &Slack{name: name, ep: ep, deskURL: deskURL,
		p: poster{sink: name, client: client, now: time.Now}}, nil
}

// Name implements alerts.Sink.
func (s *Slack) Name() string { return s.name }

// Deliver implements alerts.Sink. Slack's 429 becomes *alerts.RetryAfterError,
// its 4xx answers (invalid_payload, no_service, action_prohibited...) are
// permanent, and 5xx answers are retried.
func (s *Slack) Deliver(ctx context.Context, a *alerts.Alert) error {
	if err := checkAlert(s.name, a); err != nil {
		return err
	}
	msg := slackMessageFor(a, deskLink(s.deskURL, a))
	if isHotspot(a) {
		msg = slackHotspotMessage(a, hotspotLink(s.deskURL, a))
	}
	body, err := marshal(s.name, msg)
	if err != nil {
		return err
	}
	return s.p.post(ctx, s.ep, body, nil)
}

// Block Kit limits (characters).
const (
	slackHeaderMax = 150
	slackTextMax   = 3000
	slackFieldMax  = 2000
)

type slackMessage struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks"`
}

type slackBlock struct {
	Type     string       `json:"type"`
	Text     *slackText   `json:"text,omitempty"`
	Fields   []slackText  `json:"fields,omitempty"`
	Elements []slackInner `json:"elements,omitempty"`
}

type slackText struct {
	Type  string `json:"type"`
	Text  string `json:"text"`
	Emoji bool   `json:"emoji,omitempty"`
}

// slackInner is a context element (mrkdwn text) or an actions element (button).
type slackInner struct {
	Type     string `json:"type"`
	Text     any    `json:"text"`
	URL      string `json:"url,omitempty"`
	ActionID string `json:"action_id,omitempty"`
	Style    string `json:"style,omitempty"`
}

var slackEmoji = map[alerts.Severity]string{
	alerts.Minor:    ":large_yellow_circle:",
	alerts.Major:    ":large_orange_circle:",
	alerts.Critical: ":red_circle:",
}

// slackEscape escapes the three characters Slack treats as control sequences,
// so alert text cannot mention @channel or forge links.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func mrkdwn(s string, n int) *slackText {
	return &slackText{Type: "mrkdwn", Text: truncate(s, n)}
}

func slackField(label, value string) slackText {
	if value == "" {
		value = "—"
	}
	return slackText{Type: "mrkdwn", Text: truncate("*"+label+"*\n"+slackEscape(value), slackFieldMax)}
}

// slackDate renders t in each reader's time zone, with a UTC fallback.
func slackDate(t time.Time) string {
	return fmt.Sprintf("<!date^%d^{date_short_pretty} {time}|%s>", t.Unix(), utcMinute(t))
}

func slackMessageFor(a *alerts.Alert, link string) slackMessage {
	emoji := slackEmoji[a.Severity]
	if emoji == "" {
		emoji = ":white_circle:"
	}
	sev := strings.ToUpper(a.Severity.String())
	msg := slackMessage{Text: truncate(slackEscape(headline(a)), slackTextMax)}

	msg.Blocks = append(msg.Blocks, slackBlock{Type: "header",
		Text: &slackText{Type: "plain_text", Text: truncate(emoji+" "+sev+" · "+a.Detector, slackHeaderMax), Emoji: true}})

	value := ""
	if a.Customer.Value > 0 {
		value = money(a.Customer.Value, a.Recovery.Currency)
	}
	fields := []slackText{
		slackField("Customer", a.CustomerID),
		slackField("Tier", a.Customer.Tier),
		slackField("Value", value),
		slackField("Journey", a.Journey),
		slackField("Perceived score", num(a.Customer.Perceived)+" (0 good … 1 worst)"),
	}
	if a.ComplainedBefore {
		fields = append(fields, slackField("Complained before", "yes"))
	}
	if a.RecoveredBefore {
		fields = append(fields, slackField("Recovered before", "yes: "+recoveredText))
	}
	if a.HotspotID != "" {
		fields = append(fields, slackField("Cause", "part of an open hotspot ("+a.HotspotID+"): many customers hit by one cause; see its hotspot alert"))
	}
	reason := a.Reason
	if reason == "" {
		reason = a.Detector
	}
	msg.Blocks = append(msg.Blocks, slackBlock{Type: "section", Text: mrkdwn(slackEscape(reason), slackTextMax), Fields: fields})

	if lines := evidenceLines(a, slackDate, slackEscape); len(lines) > 0 {
		for i := range lines {
			lines[i] = "• " + lines[i]
		}
		msg.Blocks = append(msg.Blocks, slackBlock{Type: "context", Elements: []slackInner{
			{Type: "mrkdwn", Text: truncate("*Evidence*\n"+strings.Join(lines, "\n"), slackTextMax)},
		}})
	}

	if r := a.Recovery; strings.TrimSpace(r.Action) != "" {
		text := "*Recovery:* " + slackEscape(r.Action) + "\n" + slackEscape(upperFirst(recoveryTerms(r)))
		msg.Blocks = append(msg.Blocks, slackBlock{Type: "section", Text: mrkdwn(text, slackTextMax)})
	}

	// The alert_id, for staff to quote (feedback is keyed by it) and for
	// receivers to deduplicate redeliveries.
	msg.Blocks = append(msg.Blocks, slackBlock{Type: "context", Elements: []slackInner{
		{Type: "mrkdwn", Text: truncate("alert_id `"+slackEscape(a.AlertID)+"`", slackTextMax)},
	}})

	msg.Blocks = appendButton(msg.Blocks, link, "Customer timeline", "open_desk")
	return msg
}

// appendButton adds a message's one button, to link (none without a link,
// or with one too long for Slack).
func appendButton(blocks []slackBlock, link, text, actionID string) []slackBlock {
	if link == "" || len(link) > slackTextMax {
		return blocks
	}
	return append(blocks, slackBlock{Type: "actions", Elements: []slackInner{{
		Type:     "button",
		Text:     slackText{Type: "plain_text", Text: text},
		URL:      link,
		ActionID: actionID,
		Style:    "primary",
	}}})
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

var slackHotspotEmoji = map[string]string{
	alerts.HotspotOpen:      ":rotating_light:",
	alerts.HotspotEscalated: ":red_circle:",
	alerts.HotspotClosed:    ":white_check_mark:",
}

// slackHotspotMessage is one message for a cause across customers: where
// (the attribute values), the rates against the usual, the window, how
// many customers, and the hotspot_id its customer alerts carry.
func slackHotspotMessage(a *alerts.Alert, link string) slackMessage {
	h := a.Hotspot
	emoji := slackHotspotEmoji[h.State]
	if emoji == "" {
		emoji = ":white_circle:"
	}
	title := "HOTSPOT " + strings.ToUpper(hotspotState(h)) + " · " + strings.ToUpper(a.Severity.String()) + " · " + a.Detector
	if h.State == alerts.HotspotClosed {
		title = "HOTSPOT BACK TO NORMAL · " + a.Detector
	}
	msg := slackMessage{Text: truncate(slackEscape(headline(a)), slackTextMax)}
	msg.Blocks = append(msg.Blocks, slackBlock{Type: "header",
		Text: &slackText{Type: "plain_text", Text: truncate(emoji+" "+title, slackHeaderMax), Emoji: true}})
	fields := []slackText{
		slackField("Where", hotspotWhere(h)),
		slackField("Journey", h.Journey),
		slackField("Rate", hotspotRates(h)),
		slackField("In the window", hotspotCounts(h)),
		slackField("Window", hotspotWindow(h)),
	}
	msg.Blocks = append(msg.Blocks, slackBlock{Type: "section", Text: mrkdwn("*"+slackEscape(a.Reason)+"*", slackTextMax), Fields: fields})
	if before := alertedBefore(h, 10); before != "" {
		msg.Blocks = append(msg.Blocks, slackBlock{Type: "context", Elements: []slackInner{
			{Type: "mrkdwn", Text: truncate("*Alerted before it opened:* "+slackEscape(before), slackTextMax)},
		}})
	}
	note := "One cause across customers, for ops: fix it at the source. Customer alerts it causes carry hotspot_id `" + slackEscape(a.HotspotID) + "`."
	if h.State == alerts.HotspotClosed {
		note = "The rate is back below the threshold. hotspot_id `" + slackEscape(a.HotspotID) + "`."
	}
	msg.Blocks = append(msg.Blocks, slackBlock{Type: "context", Elements: []slackInner{
		{Type: "mrkdwn", Text: truncate(note+" alert_id `"+slackEscape(a.AlertID)+"`", slackTextMax)},
	}})
	msg.Blocks = appendButton(msg.Blocks, link, "Hotspot on the desk", "open_hotspot")
	return msg
}
