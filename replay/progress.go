package replay

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// progress writes a progress line to w (a terminal) about once a second
// while a replay runs, overwriting itself, and erases it at the end. A nil
// progress (no Options.Progress) does nothing.
type progress struct {
	w     io.Writer
	total atomic.Int64 // done reaches total at the end of the input
	done  atomic.Int64
	shown bool // a line was written (only the ticker goroutine, then stop, touch it)
	start time.Time
	quit  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once
}

// progressEvery is how often the line is rewritten.
var progressEvery = time.Second

func startProgress(w io.Writer, total int64) *progress {
	if w == nil {
		return nil
	}
	p := &progress{w: w, start: time.Now(), quit: make(chan struct{})}
	p.total.Store(total)
	p.wg.Go(func() {
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-p.quit:
				return
			case <-t.C:
				p.print()
			}
		}
	})
	return p
}

// setTotal sets what done counts up to (lines, or bytes of the input).
func (p *progress) setTotal(total int64) {
	if p != nil {
		p.total.Store(total)
	}
}

// set records how far the replay is (of total).
func (p *progress) set(done int64) {
	if p != nil {
		p.done.Store(done)
	}
}

func (p *progress) print() {
	p.shown = true
	done, total := p.done.Load(), p.total.Load()
	el := time.Since(p.start).Round(time.Second)
	if total <= 0 {
		fmt.Fprintf(p.w, "\rreplay: reading the input, %s", el)
		return
	}
	pct := 100 * float64(done) / float64(total)
	line := fmt.Sprintf("\rreplay: %.0f%% done, %s", pct, el)
	if done > 0 && done < total {
		left := time.Duration(float64(time.Since(p.start)) * float64(total-done) / float64(done)).Round(time.Second)
		line += fmt.Sprintf(", about %s left", left)
	}
	fmt.Fprint(p.w, line+"\033[K")
}

// stop ends the line and erases it, so that the summary that follows
// starts on a clean line. Safe to call twice.
func (p *progress) stop() {
	if p == nil {
		return
	}
	p.once.Do(func() {
		close(p.quit)
		p.wg.Wait()
		if p.shown {
			fmt.Fprint(p.w, "\r\033[K")
		}
	})
}
