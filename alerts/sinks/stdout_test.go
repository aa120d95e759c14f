package sinks

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/config"
)

func TestWriterLine(t *testing.T) {
	crit := testAlert()
	crit.Severity = alerts.Critical
	crit.Reason = "Delivery delay was 170 hours"
	crit.Recovery = config.Recovery{Action: "Call today; full refund if wanted", Budget: 150, Currency: "EUR"}

	bare := testAlert()
	bare.Severity = alerts.Minor
	bare.Customer = alerts.Customer{}
	bare.Recovery = config.Recovery{}
	bare.ComplainedBefore = true

	approval := testAlert()
	approval.Recovery = config.Recovery{Action: "Refund", Budget: 1234.5, Currency: "USD", RequiresApproval: true}
	approval.Customer.Value = 0

	evil := testAlert()
	evil.CustomerID = "c-1\x1b[2J"
	evil.Reason = "line\nbreak"

	tests := []struct {
		name string
		a    *alerts.Alert
		want string
	}{
		{"critical", crit, "14:03:24 CRITICAL c-0004211 (gold, 1,200 EUR) late_delivery — Delivery delay was 170 hours → Call today; full refund if wanted (budget 150 EUR, no approval needed)"},
		{"bare", bare, "14:03:24 MINOR    c-0004211 late_delivery — Delivery arrived 7.1 days late — worse than 99.6% of deliveries in the last 7 days [complained before]"},
		{"approval", approval, "14:03:24 MAJOR    c-0004211 (gold) late_delivery — Delivery arrived 7.1 days late — worse than 99.6% of deliveries in the last 7 days → Refund (budget 1,234.50 USD, needs approval)"},
		{"control characters", evil, "14:03:24 MAJOR    c-1 [2J (gold, 1,200 EUR) late_delivery — line break → Call the customer; refund shipping (budget 25 EUR, no approval needed)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := NewWriter("", &buf, false)
			w.Location = time.UTC
			require.Equal(t, "stdout", w.Name())
			require.NoError(t, w.Deliver(context.Background(), tt.a))
			require.Equal(t, tt.want+"\n", buf.String())
		})
	}
}

// Reasons say their times in UTC: a console away from UTC names its zone.
func TestWriterLineZone(t *testing.T) {
	w := NewWriter("", nil, false)
	w.Location = time.FixedZone("CET", 3600)
	require.True(t, strings.HasPrefix(w.Line(testAlert()), "15:03:24 CET MAJOR    c-0004211 "), w.Line(testAlert()))
	w.Location = time.FixedZone("GMT", 0)
	require.True(t, strings.HasPrefix(w.Line(testAlert()), "14:03:24 MAJOR    c-0004211 "), w.Line(testAlert()))
}

func TestWriterColor(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter("demo", &buf, true)
	w.Location = time.UTC
	a := testAlert()
	a.Severity = alerts.Critical
	require.NoError(t, w.Deliver(context.Background(), a))
	require.True(t, strings.HasPrefix(buf.String(), "14:03:24 \x1b[1;31mCRITICAL\x1b[0m c-0004211 "), buf.String())
}

func TestWriterConcurrent(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter("demo", &buf, false)
	w.Location = time.UTC
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			for j := range 50 {
				a := testAlert()
				a.CustomerID = fmt.Sprintf("c-%d-%d", i, j)
				require.NoError(t, w.Deliver(context.Background(), a))
			}
		})
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	require.Len(t, lines, 16*50)
	for _, l := range lines {
		require.True(t, strings.HasPrefix(l, "14:03:24 MAJOR    c-"), l)
		require.True(t, strings.HasSuffix(l, "no approval needed)"), l)
	}
}

func TestAmount(t *testing.T) {
	for v, want := range map[float64]string{
		0: "0", 5: "5", 999: "999", 1000: "1,000", 1200: "1,200", 1234567: "1,234,567",
		12.5: "12.50", 0.05: "0.05", 1999.999: "2,000", -1500: "-1,500",
	} {
		require.Equal(t, want, amount(v), "%v", v)
	}
}
