package sinks

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/peakend/peakend/alerts"
)

// Writer prints one line per alert for people watching a terminal
// (`peakend demo`, the stdout sink):
//
//	14:03:22 CRITICAL c-0004211 (gold, 1,200 EUR) late_delivery — Delivery delay was 170 hours → Call today; full refund if wanted (budget 150 EUR, no approval needed)
//
// The time is detected_at in Location, with the zone's name unless it is
// UTC (or at UTC's offset). Control characters in alert text are
// replaced, so input data cannot drive the terminal. Safe for concurrent use.
type Writer struct {
	// Location for the time of day; nil means time.Local. Set before use.
	Location *time.Location

	name  string
	color bool
	mu    sync.Mutex
	w     io.Writer
}

// NewWriter returns a sink printing to w, with ANSI colours by severity when
// color is true.
func NewWriter(name string, w io.Writer, color bool) *Writer {
	if name == "" {
		name = "stdout"
	}
	return &Writer{name: name, w: w, color: color}
}

// Name implements alerts.Sink.
func (w *Writer) Name() string { return w.name }

const ansiReset = "\x1b[0m"

var ansiSeverity = map[alerts.Severity]string{
	alerts.Minor:    "\x1b[36m",   // cyan
	alerts.Major:    "\x1b[33m",   // yellow
	alerts.Critical: "\x1b[1;31m", // bold red
}

// Line formats a, without the trailing newline.
func (w *Writer) Line(a *alerts.Alert) string {
	loc := w.Location
	if loc == nil {
		loc = time.Local
	}
	var b strings.Builder
	at := a.DetectedAt.In(loc)
	b.WriteString(at.Format("15:04:05"))
	// Reasons give times in UTC ("promised by Mon 2 Mar 18:00 UTC"): away
	// from UTC, the line says its zone, so the two read together.
	if name, offset := at.Zone(); offset != 0 {
		b.WriteString(" " + name)
	}
	b.WriteByte(' ')
	sev := strings.ToUpper(a.Severity.String())
	if c := ansiSeverity[a.Severity]; w.color && c != "" {
		b.WriteString(c + sev + ansiReset)
	} else {
		b.WriteString(sev)
	}
	b.WriteString(strings.Repeat(" ", max(1, len("CRITICAL")+1-len(sev))))
	if isHotspot(a) {
		b.WriteString("HOTSPOT " + clean(a.Detector) + " " + hotspotState(a.Hotspot))
		if a.Reason != "" {
			b.WriteString(" — " + clean(a.Reason))
		}
		return b.String()
	}
	b.WriteString(clean(a.CustomerID))
	if c := customerText(a); c != "" {
		b.WriteString(" (" + clean(c) + ")")
	}
	b.WriteString(" " + clean(a.Detector))
	if a.Reason != "" {
		b.WriteString(" — " + clean(a.Reason))
	}
	if a.ComplainedBefore {
		b.WriteString(" [complained before]")
	}
	if a.RecoveredBefore {
		b.WriteString(" [recovered before]")
	}
	if a.HotspotID != "" {
		b.WriteString(" [in hotspot " + clean(a.HotspotID) + "]")
	}
	if r := recoveryText(a.Recovery); r != "" {
		b.WriteString(" → " + clean(r))
	}
	return b.String()
}

// Deliver implements alerts.Sink: one Write per line.
func (w *Writer) Deliver(ctx context.Context, a *alerts.Alert) error {
	if err := checkAlert(w.name, a); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	line := w.Line(a) + "\n"
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := io.WriteString(w.w, line); err != nil {
		return fmt.Errorf("sink %s: %w", w.name, err)
	}
	return nil
}
