package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"time"

	"github.com/peakend/peakend/replay"
	"github.com/peakend/peakend/tune"
)

const tuneUsage = "peakend tune --config FILE --input EVENTS.jsonl --complaints FILE.jsonl [--feedback FILE.jsonl] [--capacity N] [--write FILE.yaml]"

func cmdTune(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("tune", tuneUsage, stdout, stderr)
	path := fs.String("config", "", "configuration file (YAML): the current settings")
	input := fs.String("input", "", "experience events, one JSON object per line (the history to replay)")
	complaints := fs.String("complaints", "", "complaint events (JSONL): who complained, and when")
	feedback := fs.String("feedback", "", "staff feedback events (JSONL, docs/reference.md \"Feedback event\"): precision per setting")
	capacity := fs.Float64("capacity", -1, "frontline capacity in alerts per day (default 24 × alerting.max_per_hour; unlimited when that is 0)")
	write := fs.String("write", "", "write the recommended detectors (and alerting.cooldown if changed) as YAML to this file")
	holdOut := fs.Float64("hold-out", tune.DefaultHoldOut, "the later share of the event-time span kept for scoring, not for choosing")
	workers := fs.Int("workers", 0, "settings scored at once (default GOMAXPROCS)")
	maxSettings := fs.Int("max-settings", 0, "stop the search after this many settings (0: no limit)")
	onDisk := fs.Bool("state-on-disk", false, "keep each replay's state in a temporary directory instead of memory (for histories whose state does not fit in RAM twice over)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file (for go tool pprof)")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case *input == "":
		return usagef("--input is required")
	case *complaints == "":
		return usagef("--complaints is required: tune scores settings by the complaints they foresee")
	case *holdOut <= 0 || *holdOut >= 1:
		return usagef("--hold-out must be between 0 and 1 (got %v)", *holdOut)
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		return err
	}
	capPerDay := *capacity
	if capPerDay < 0 {
		capPerDay = 24 * float64(cfg.Alerting.MaxPerHour)
	}
	var out *os.File
	if *write != "" {
		// Created before the long search: a path that cannot be written fails at once.
		if out, err = os.Create(*write); err != nil {
			return fmt.Errorf("tune: %w", err)
		}
		defer out.Close()
	}

	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return fmt.Errorf("tune: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("tune: cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	d, err := replay.DecodeInput(ctx, replay.DecodeOptions{Input: *input, Complaints: *complaints, Feedback: *feedback,
		MaxBytes: cfg.Events.MaxBytes, Journeys: cfg.Journeys})
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "tune: decoded %d events, %d complaints and %d feedback events in %.1fs (%d bad lines skipped)\n",
		d.Events(), len(d.Complaints), d.Feedback, time.Since(start).Seconds(), d.Invalid)
	o := tune.Options{Config: cfg, Input: d, Capacity: capPerDay, HoldOut: *holdOut, Workers: *workers, MaxSettings: *maxSettings, InMemory: !*onDisk,
		Progress: func(s *tune.Setting, done int, took time.Duration) {
			fmt.Fprintf(stderr, "tune: #%d %s: %.1fs\n", s.N, s.Label, took.Seconds())
		},
		Traced: func(n int, took time.Duration) {
			fmt.Fprintf(stderr, "tune: one replay judged %d detector settings in %.1fs\n", n, took.Seconds())
		}}
	r, err := tune.Run(ctx, o)
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("tune: interrupted; nothing recommended")
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "tune: %d settings in %.1fs\n", len(r.Settings), time.Since(start).Seconds())
	if err := r.WriteTable(stdout); err != nil {
		return err
	}
	if out != nil {
		if err := r.WriteYAML(out); err != nil {
			return err
		}
		if err := out.Close(); err != nil {
			return fmt.Errorf("tune: %w", err)
		}
		fmt.Fprintf(stdout, "written: %s\n", *write)
	}
	return nil
}
