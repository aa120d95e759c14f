package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/peakend/peakend/internal/demo"
)

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", "peakend demo [--listen :8080] [--rate 300] [--customers 5000] [--emit N [--start RFC3339] [--every 10s]]", stdout, stderr)
	listen := fs.String("listen", ":8080", "HTTP address for /metrics, /healthz, /readyz, /customers/{id}")
	rate := fs.Int("rate", 300, "synthetic events per second")
	customers := fs.Int("customers", 5000, "synthetic customers")
	level := fs.String("log-level", "warn", "log level: debug, info, warn, error")
	emit := fs.Int("emit", 0, "instead of running, print N synthetic events (JSONL) for peakend replay, and exit")
	start := fs.String("start", "2026-01-01T00:00:00Z", "with --emit: event time of the first event")
	every := fs.Duration("every", 10*time.Second, "with --emit: event time between events")
	seed := fs.Uint64("seed", 1, "random seed (the same seed gives the same traffic)")
	sequential := fs.Bool("sequential", false, "with --emit: visit customers in turn, so N events cover N distinct customers (no order journeys)")
	orders := fs.Bool("orders", true, "with --emit: deliveries as order journeys (promised, shipped, delivered); false: one delivered event each")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *rate <= 0 || *customers <= 0 {
		return usagef("--rate and --customers must be positive")
	}
	if *emit > 0 {
		t0, err := time.Parse(time.RFC3339, *start)
		if err != nil {
			return usagef("--start: %v", err)
		}
		return emitEvents(stdout, *emit, *customers, *seed, t0, *every, *sequential, !*orders)
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

func emitEvents(w io.Writer, n, customers int, seed uint64, t0 time.Time, every time.Duration, sequential, noOrders bool) error {
	g := demo.NewGenerator(customers, seed)
	g.Sequential, g.NoOrders = sequential, noOrders
	g.InvalidEvery = 5000
	bw := bufio.NewWriterSize(w, 1<<16)
	for i := range n {
		_, v := g.Next(t0.Add(time.Duration(i) * every))
		bw.Write(v)
		bw.WriteByte('\n')
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("demo: emit: %w", err)
	}
	return nil
}
