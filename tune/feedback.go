package tune

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/peakend/peakend/event"
)

// ReadFeedback reads a file of feedback events (docs/reference.md,
// "Feedback event"; event.DecodeFeedback), one per line. Bad lines are
// counted and skipped; blank lines are ignored.
func ReadFeedback(path string, maxBytes int) (feed []event.Feedback, bad int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("tune: feedback: %w", err)
	}
	defer f.Close()
	r := bufio.NewReader(f)
	for {
		line, rerr := r.ReadBytes('\n')
		if b := bytes.TrimSpace(line); len(b) > 0 {
			// Too long, not JSON, a missing field: DecodeFeedback says which.
			if fb, err := event.DecodeFeedback(b, maxBytes); err != nil {
				bad++
			} else {
				feed = append(feed, fb)
			}
		}
		if rerr == io.EOF {
			return feed, bad, nil
		}
		if rerr != nil {
			return nil, 0, fmt.Errorf("tune: feedback: %w", rerr)
		}
	}
}
