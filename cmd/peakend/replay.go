package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"

	"github.com/peakend/peakend/replay"
)

func cmdReplay(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("replay", "peakend replay --config FILE --input EVENTS.jsonl [--complaints FILE.jsonl] [--out ALERTS.jsonl] [--dlq BAD.jsonl] [--state DIR] [--feedback FILE.jsonl] [--report] [--report-json FILE] [--report-html FILE] [--partitions N [--partitioner murmur2|crc32]]", stdout, stderr)
	path := fs.String("config", "", "configuration file (YAML)")
	input := fs.String("input", "", "experience events, one JSON object per line; - reads standard input")
	complaints := fs.String("complaints", "", "complaint events (JSONL), for complained_before and the report")
	out := fs.String("out", "", "write alerts (JSONL) here instead of standard output")
	dlq := fs.String("dlq", "", "write bad lines here, with their reasons (JSONL); default: count them on standard error")
	stateDir := fs.String("state", "", "Pebble state directory to use and keep; default: a fresh temporary one")
	feedback := fs.String("feedback", "", "feedback events (JSONL, as the desk writes them), applied by event time: precision and recovery rate in the report")
	report := fs.Bool("report", false, "print the evaluation (complaint coverage, lead time, silent reach, alert load, precision) on standard error")
	reportJSON := fs.String("report-json", "", "write the evaluation as JSON to this file")
	reportHTML := fs.String("report-html", "", "write the evaluation as one self-contained HTML page with charts to this file")
	partitions := fs.Int("partitions", 0, "split the input by customer id over N partitions, as producers do, and replay each in file order: the alerts of a live run over an N-partition topic (default: one partition, in event-time order)")
	partitionerName := fs.String("partitioner", "murmur2", "with --partitions: the producers' partitioner, murmur2 (Java client, franz-go) or crc32 (librdkafka's consistent_random: kcat, confluent-kafka-python)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file (for go tool pprof)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *input == "" {
		return usagef("--input is required")
	}
	if err := checkPartitionFlags(fs, *partitions, *partitionerName); err != nil {
		return err
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		return err
	}
	o := replay.Options{Config: cfg, Input: *input, Stdin: stdin, Complaints: *complaints, Feedback: *feedback, Out: stdout, StateDir: *stateDir,
		Partitions: *partitions, Partitioner: *partitionerName, Progress: terminal(stderr)}
	// The report files are created before the replay, so that a bad path
	// fails at once rather than after a long run.
	var jsonFile, htmlFile *os.File
	for _, rf := range []struct {
		path string
		f    **os.File
	}{{*reportJSON, &jsonFile}, {*reportHTML, &htmlFile}} {
		if rf.path == "" {
			continue
		}
		f, err := os.Create(rf.path)
		if err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		defer f.Close()
		*rf.f = f
	}
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		defer f.Close()
		o.Out = f
	}
	if *dlq != "" {
		f, err := os.Create(*dlq)
		if err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		defer f.Close()
		o.DLQ = f
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("replay: cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	s, err := replay.Run(ctx, o)
	if errors.Is(err, context.Canceled) {
		// Not a clean stop like run's or demo's: the output is incomplete.
		return fmt.Errorf("replay: interrupted before the end of the input; the alerts written are incomplete")
	}
	if err != nil {
		return err
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	var alertsN int
	for _, n := range s.Alerts {
		alertsN += n
	}
	fmt.Fprintf(stderr, "replay: %d events, %d invalid, %d duplicates, %d customers, %d alerts in %.2fs (%.0f events/s, %.1f allocs/event), peak RSS %d MiB\n",
		s.Events, s.Invalid, s.Duplicates, s.Customers, alertsN, s.Elapsed.Seconds(),
		float64(s.Events)/max(s.Elapsed.Seconds(), 1e-9),
		float64(after.Mallocs-before.Mallocs)/float64(max(s.Events, 1)), peakRSSMiB())
	if s.Invalid > 0 && *dlq == "" {
		fmt.Fprintf(stderr, "replay: %d bad lines skipped (use --dlq FILE to keep them with their reasons)\n", s.Invalid)
	}
	if jsonFile != nil || htmlFile != nil {
		r := s.Report()
		if jsonFile != nil {
			if err := r.WriteJSON(jsonFile); err != nil {
				return err
			}
			if err := jsonFile.Close(); err != nil {
				return fmt.Errorf("replay: %w", err)
			}
		}
		if htmlFile != nil {
			if err := r.WriteHTML(htmlFile); err != nil {
				return err
			}
			if err := htmlFile.Close(); err != nil {
				return fmt.Errorf("replay: %w", err)
			}
		}
	}
	if *report {
		// Standard error, always: standard output holds only alert lines
		// (without --out), so that it can be piped as JSONL.
		return s.WriteReport(stderr)
	}
	return nil
}
