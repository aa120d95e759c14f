package replay

import (
	"context"
	"io"
	"os"
	"testing"

	"github.com/peakend/peakend/config"
)

func TestProfileReplay(t *testing.T) {
	in := os.Getenv("PEAKEND_PROFILE_INPUT")
	if in == "" {
		t.Skip("set PEAKEND_PROFILE_INPUT")
	}
	cfg, err := config.Load(os.Getenv("PEAKEND_PROFILE_CFG"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Run(context.Background(), Options{Config: cfg, Input: in, Out: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d events in %v: %.0f/s", s.Events, s.Elapsed, float64(s.Events)/s.Elapsed.Seconds())
}
