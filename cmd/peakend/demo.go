package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/peakend/peakend/internal/demo"
)

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", "peakend demo [--listen :8080] [--rate 40] [--customers 5000] [--emit N [--complaints FILE] [--start RFC3339] [--every 10s]]", stdout, stderr)
	listen := fs.String("listen", ":8080", "HTTP address for /metrics, /healthz, /readyz, /customers/{id}")
	rate := fs.Int("rate", demo.DefaultRate, "synthetic events per second (the default shows a few alerts a minute; raise it for load)")
	customers := fs.Int("customers", demo.DefaultCustomers, "synthetic customers")
	level := fs.String("log-level", "warn", "log level: debug, info, warn, error")
	emit := fs.Int("emit", 0, "instead of running, print N synthetic events (JSONL) for peakend replay, and exit")
	start := fs.String("start", "2026-01-01T00:00:00Z", "with --emit: event time of the first event")
	every := fs.Duration("every", 10*time.Second, "with --emit: event time between events")
	seed := fs.Uint64("seed", 1, "random seed (the same seed gives the same traffic)")
	sequential := fs.Bool("sequential", false, "with --emit: visit customers in turn, so N events cover N distinct customers (no order journeys)")
	orders := fs.Bool("orders", true, "with --emit: deliveries as order journeys (promised, shipped, delivered); false: one delivered event each")
	complaints := fs.String("complaints", "", "with --emit: also write complaints (JSONL) to this file, from the bad experiences planted in the events (never from alerts)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *complaints != "" && *emit <= 0 {
		return usagef("--complaints needs --emit N")
	}
	if *rate <= 0 || *customers <= 0 {
		return usagef("--rate and --customers must be positive")
	}
	if *emit > 0 {
		t0, err := time.Parse(time.RFC3339, *start)
		if err != nil {
			return usagef("--start: %v", err)
		}
		return emitEvents(stdout, *complaints, *emit, *customers, *seed, t0, *every, *sequential, !*orders)
	}
	log, err := newLogger(stderr, *level)
	if err != nil {
		return err
	}
	color := false
	if f, ok := stdout.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 && os.Getenv("NO_COLOR") == "" {
			color = true
		}
	}
	return demo.Run(ctx, demo.Options{Listen: *listen, Rate: *rate, Customers: *customers, Stdout: stdout,
		Color: color, Logger: log, Seed: *seed})
}

// emitEvents writes n events of the demo's generator (NewGenerator's
// rates: 1 experience in 100 bad, 1 order in 150 late, so that a file of
// thousands of lines shows every detector) and, with complaintsPath, the
// complaints of the customers who would complain about the bad ones.
func emitEvents(w io.Writer, complaintsPath string, n, customers int, seed uint64, t0 time.Time, every time.Duration,
	sequential, noOrders bool) error {
	g := demo.NewGenerator(customers, seed)
	g.Sequential, g.NoOrders = sequential, noOrders
	g.InvalidEvery = 5000
	var cm *demo.Complainer
	if complaintsPath != "" {
		cm = demo.NewComplainer(customers, seed)
		g.OnBad = cm.Bad
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	for i := range n {
		_, v := g.Next(t0.Add(time.Duration(i) * every))
		bw.Write(v)
		bw.WriteByte('\n')
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("demo: emit: %w", err)
	}
	if cm == nil {
		return nil
	}
	f, err := os.Create(complaintsPath)
	if err != nil {
		return fmt.Errorf("demo: complaints: %w", err)
	}
	bw = bufio.NewWriter(f)
	for _, c := range cm.Complaints(t0.Add(time.Duration(n-1) * every)) {
		bw.Write(c.MarshalLine())
		bw.WriteByte('\n')
	}
	if err := errors.Join(bw.Flush(), f.Close()); err != nil {
		return fmt.Errorf("demo: complaints: %w", err)
	}
	return nil
}
