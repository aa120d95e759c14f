// Package replay runs the detection engine over JSONL files in event-time
// order, with no broker: backtests, golden tests and the replay benchmark.
package replay

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/engine"
	"github.com/peakend/peakend/event"
	"github.com/peakend/peakend/state"
)

// Options configures one replay.
type Options struct {
	Config *config.Config // validated
	// Input is the events file (JSONL); "-" reads Stdin (spooled to a temporary file).
	Input string
	Stdin io.Reader
	// Complaints is an optional complaints file (JSONL).
	Complaints string
	// Feedback is an optional feedback events file (JSONL), applied by
	// event time to the replay's alerts for the report's precision and
	// recovery rate, and to the engine for recovered_before, as live.
	Feedback string
	// Out receives alerts, one JSON object per line. Required.
	Out io.Writer
	// DLQ receives bad lines as {"line","error","record"} objects; nil counts them only.
	DLQ io.Writer
	// StateDir is the Pebble directory; "" uses a fresh temporary one.
	StateDir string
	// CacheBytes overrides the Pebble block cache (0 = config).
	CacheBytes int64
	// BatchEvents is how many events go into one Pebble batch. Default 4096.
	BatchEvents int
	// SyncCommit waits for each batch's memtable insert before the next
	// batch starts. Default false: the insert overlaps the next batch
	// (engine.Options.AsyncCommit); the alerts are the same either way.
	SyncCommit bool
	// Partitions, when > 0, splits the input as producers keyed by customer
	// id split it over a topic of that many partitions, and replays each
	// partition in file order, as a live run over that topic does
	// (partitions.go). 0: one partition, in event-time order.
	Partitions int
	// Partitioner is the producers' partitioner with Partitions: "murmur2"
	// (the default; the Java client, franz-go) or "crc32" (librdkafka).
	Partitioner string
	// Progress, if set (a terminal), receives a progress line about once a
	// second, erased at the end.
	Progress io.Writer
}

// Summary is what a replay did, and the evaluation of docs/reference.md, "The replay report".
type Summary struct {
	Lines, Events, Invalid, Duplicates int
	Complaints                         int
	Alerts                             [4]int // by severity
	Customers                          int64  // distinct customers seen in the input's experiences
	First, Last                        time.Time
	Elapsed                            time.Duration
	Sorted                             bool // the input was already in event-time order

	eval  evaluation
	custs custSet        // hashes of the customer ids seen (saw)
	hs    *hotspotReplay // nil without hotspot rules (hotspots.go)
}

// replayMemtable is Run's smallest memtable. Customers' keys are spread
// evenly, so each compaction of L0 rewrites the base level it overlaps:
// twice the memtable halves how often. On the replay benchmark (1M
// events over 1M customers) 16 MiB instead of 8 halved the bytes
// compactions wrote for 13 MiB more peak RSS; 32 MiB quartered them but
// took the RSS to 323 MiB (docs/performance.md, issue 15).
const replayMemtable = 16 << 20

type idx struct {
	t    int64
	off  int64
	n    int32
	line int32
}

// Run replays the input. Bad lines never stop it; only I/O and store
// failures return an error.
func Run(ctx context.Context, o Options) (*Summary, error) {
	start := time.Now()
	if o.BatchEvents <= 0 {
		o.BatchEvents = 4096
	}
	pf, err := checkPartitions(o)
	if err != nil {
		return nil, err
	}
	f, cleanup, err := openInput(o)
	if err != nil {
		return nil, err
	}
	defer cleanup()

	dir := o.StateDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "peakend-replay-")
		if err != nil {
			return nil, fmt.Errorf("replay: state dir: %w", err)
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	cache := o.CacheBytes
	if cache == 0 {
		cache = int64(o.Config.State.CacheMiB) << 20
	}
	// No WAL: a replay that dies is run again; its store is never resumed
	// from the middle of a run. Memtables of at least replayMemtable.
	mem := max(uint64(o.Config.State.MemtableMiB)<<20, replayMemtable)
	cache = max(cache, 4*int64(mem)+16<<20)
	store, err := state.Open(state.Options{Dir: dir, CacheBytes: cache, MemtableBytes: mem, DisableWAL: true})
	if err != nil {
		return nil, err
	}
	defer store.Close()
	hs, err := newHotspotReplay(o.Config, max(1, o.Partitions))
	if err != nil {
		return nil, err
	}
	eo := engine.Options{AsyncCommit: !o.SyncCommit}
	hs.engineOptions(&eo)
	eng, err := engine.New(o.Config, store, eo)
	if err != nil {
		return nil, err
	}
	if o.Partitions > 0 {
		s, err := runPartitions(ctx, o, f, eng, pf, hs)
		if err != nil {
			return nil, err
		}
		if err := store.Close(); err != nil {
			return nil, err
		}
		s.Elapsed = time.Since(start)
		return s, nil
	}
	pt, err := eng.OpenPartition(0)
	if err != nil {
		return nil, err
	}
	ptClosed := false
	defer func() {
		if !ptClosed {
			pt.Close()
		}
	}()

	s := &Summary{hs: hs}
	defer s.custs.free() // on every return: counted by then, or an error
	s.eval.init(o.Config)
	complaints, err := readComplaints(o, s)
	if err != nil {
		return nil, err
	}
	feedback, err := readFeedback(o, s)
	if err != nil {
		return nil, err
	}
	complaints = withFeedback(complaints, feedback)

	// Passes 1 (and 1b) show as "reading the input" on the progress line.
	prog := startProgress(o.Progress, 0)
	defer prog.stop()

	// Pass 1: find whether the input is in event-time order, looking only
	// at each line's time (event.Decoder.Time). Sorted input, the usual
	// case, is then decoded once, in pass 2, and replays in constant memory;
	// other input is validated and indexed by time in a second read.
	// Either way bad lines reach the DLQ in line order.
	var index []idx
	dec := event.NewDecoder(o.Config.Events.MaxBytes, o.Config.Journeys)
	var ev event.Event
	s.Sorted = true
	var seen bool
	var latest int64
	err = eachLine(f, func(line int, off int64, b []byte) error {
		s.Lines++
		t, ok := dec.Time(b)
		if !ok {
			return nil // no time: a bad line, which pass 2 (or 1b) reports
		}
		if seen && t < latest {
			// Out of order, unless the line is bad anyway (Decode decides:
			// rare, so cheap).
			if dec.Decode(b, &ev) != nil {
				return nil
			}
			s.Sorted = false
		}
		seen, latest = true, max(latest, t)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !s.Sorted {
		err = eachLine(f, func(line int, off int64, b []byte) error {
			if len(bytes.TrimSpace(b)) == 0 {
				return nil
			}
			if err := dec.Decode(b, &ev); err != nil {
				s.Invalid++
				return writeDead(o.DLQ, line, "", err, b)
			}
			index = append(index, idx{t: ev.Time, off: off, n: int32(len(b)), line: int32(line)})
			return nil
		})
		if err != nil {
			return nil, err
		}
		slices.SortStableFunc(index, func(a, b idx) int { return cmp.Compare(a.t, b.t) })
	}

	// Pass 2: process in event-time order, applying each complaint (and
	// feedback event) before the first event after it.
	prog.setTotal(int64(s.Lines))
	w := bufio.NewWriterSize(o.Out, 1<<16)
	ci := 0
	var buf []byte
	inBatch := 0
	flush := func() error {
		if err := pt.Stage(); err != nil {
			return err
		}
		out := pt.Output()
		for _, a := range out.Alerts {
			s.Alerts[a.Severity]++
			s.eval.alert(a)
			if err := writeAlert(w, a); err != nil {
				return err
			}
		}
		if err := hs.add(out, w); err != nil {
			return err
		}
		inBatch = 0
		return pt.Commit(false)
	}
	done := 0 // lines processed, for the progress line
	rec := engine.Record{Topic: "replay"}
	// process applies line's event, after every complaint up to its time; a
	// bad line goes to the DLQ.
	var first, last int64
	process := func(line int, b []byte) error {
		rec.Offset, rec.Value = int64(line), b
		ev, err := pt.Decode(&rec)
		if err != nil {
			s.Invalid++
			return writeDead(o.DLQ, line, "", err, b)
		}
		if s.Events == 0 {
			first, last = ev.Time, ev.Time
		}
		first, last = min(first, ev.Time), max(last, ev.Time)
		s.saw(ev.CustomerID)
		for ci < len(complaints) && complaints[ci].t <= ev.Time {
			if err := applyComplaint(pt, &complaints[ci], &s.eval); err != nil {
				return err
			}
			ci++
		}
		if err := pt.Apply(&rec, ev); err != nil {
			return err
		}
		s.Events++
		if inBatch++; inBatch >= o.BatchEvents {
			prog.set(int64(done))
			return flush()
		}
		return nil
	}
	if s.Sorted {
		// In order already: stream the file again.
		err = eachLine(f, func(line int, _ int64, b []byte) error {
			if (line-1)&1023 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			done = line
			if len(bytes.TrimSpace(b)) == 0 {
				return nil
			}
			return process(line, b)
		})
	} else {
		for i, x := range index {
			if i&1023 == 0 && ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if cap(buf) < int(x.n) {
				buf = make([]byte, x.n)
			}
			buf = buf[:x.n]
			if _, err = f.ReadAt(buf, x.off); err != nil {
				return nil, fmt.Errorf("replay: read line %d: %w", x.line, err)
			}
			done = s.Lines * i / len(index)
			if err = process(int(x.line), buf); err != nil {
				break
			}
		}
	}
	if err != nil {
		return nil, err
	}
	prog.stop()
	for ; ci < len(complaints); ci++ {
		if err := applyComplaint(pt, &complaints[ci], &s.eval); err != nil {
			return nil, err
		}
	}
	// End of input: timers due by the last event time fire (engine.Partition.Drain).
	if err := pt.Drain(); err != nil {
		return nil, err
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if err := w.Flush(); err != nil {
		return nil, fmt.Errorf("replay: write alerts: %w", err)
	}
	s.Customers = s.custs.count()
	if err := applyFeedback(o, s, feedback); err != nil {
		return nil, err
	}
	if s.Events > 0 {
		s.First, s.Last = time.Unix(0, first).UTC(), time.Unix(0, last).UTC()
	}
	_, _, dup, _ := pt.Stats()
	s.Duplicates = int(dup)
	// Close explicitly: without a WAL, Close flushes the last memtable, and
	// a kept --state directory must not be silently incomplete.
	ptClosed = true
	if err := pt.Close(); err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	if err := store.Close(); err != nil {
		return nil, err
	}
	s.Elapsed = time.Since(start)
	return s, nil
}

func openInput(o Options) (*os.File, func(), error) {
	if o.Input != "-" {
		f, err := os.Open(o.Input)
		if err != nil {
			return nil, nil, fmt.Errorf("replay: %w", err)
		}
		return f, func() { f.Close() }, nil
	}
	// Standard input cannot be read twice: spool it.
	f, err := os.CreateTemp("", "peakend-stdin-*.jsonl")
	if err != nil {
		return nil, nil, fmt.Errorf("replay: spool stdin: %w", err)
	}
	cleanup := func() { f.Close(); os.Remove(f.Name()) }
	if _, err := io.Copy(f, o.Stdin); err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("replay: spool stdin: %w", err)
	}
	return f, cleanup, nil
}

// eachLine calls fn for each line of f (without its newline) with its
// 1-based number and byte offset.
func eachLine(f *os.File, fn func(line int, off int64, b []byte) error) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	r := bufio.NewReaderSize(f, 1<<20)
	var off int64
	var long []byte
	for line := 1; ; line++ {
		b, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long[:0], b...)
			for errors.Is(err, bufio.ErrBufferFull) {
				b, err = r.ReadSlice('\n')
				long = append(long, b...)
			}
			b = long
		}
		if len(b) == 0 && err == io.EOF {
			return nil
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("replay: read line %d: %w", line, err)
		}
		n := int64(len(b))
		b = bytes.TrimSuffix(bytes.TrimSuffix(b, []byte("\n")), []byte("\r"))
		if ferr := fn(line, off, b); ferr != nil {
			return ferr
		}
		off += n
		if err == io.EOF {
			return nil
		}
	}
}

type deadLine struct {
	Line   int    `json:"line"`
	Error  string `json:"error"`
	Record string `json:"record"`
}

// writeDead writes a bad line to the DLQ. file is "" for the events file,
// else it prefixes the reason ("complaints: ..."), so that line numbers of
// different files cannot be confused.
func writeDead(w io.Writer, line int, file string, err error, b []byte) error {
	if w == nil {
		return nil
	}
	reason := err.Error()
	var ie *event.Error
	if errors.As(err, &ie) {
		reason = ie.Reason
	}
	if file != "" {
		reason = file + ": " + reason
	}
	out, _ := json.Marshal(deadLine{Line: line, Error: reason, Record: string(b)})
	if _, err := w.Write(append(out, '\n')); err != nil {
		return fmt.Errorf("replay: write dlq: %w", err)
	}
	return nil
}

func writeAlert(w io.Writer, a *alerts.Alert) error {
	b, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("replay: encode alert: %w", err)
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("replay: write alerts: %w", err)
	}
	return nil
}
