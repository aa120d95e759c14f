// Package httpapi serves peakend's HTTP endpoints (docs/reference.md, "HTTP"):
// metrics, health, readiness and the customer view.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/peakend/peakend/internal/metrics"
	"github.com/peakend/peakend/state"
)

// Options configures the server.
type Options struct {
	Listen  string // address, e.g. ":8080"
	Metrics *metrics.Metrics
	Store   *state.Store
	Window  int
	// HalfLife is alerting.peak_half_life, for the peak-end score; default alerts.PeakHalfLife.
	HalfLife time.Duration
	// Ready reports readiness (state restored, partitions assigned).
	Ready func() bool
	// Partitions lists the partitions whose state this instance holds.
	Partitions func() []int32
	Logger     *slog.Logger
	// Mount, if set, adds more handlers (the desk's page and API) to the
	// server's mux; require wraps a handler so that it needs a signed-in
	// user (nil until sign-in is wired: the desk refuses requests without one).
	Mount func(mux *http.ServeMux, require func(http.Handler) http.Handler)
}

// Server is the HTTP server. Run serves until ctx is done, then shuts down
// gracefully (in-flight requests get 5 seconds).
type Server struct {
	o   Options
	srv *http.Server
	ln  net.Listener
}

// New binds the listen address at once, so that a port conflict is reported
// before anything else starts.
func New(o Options) (*Server, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return nil, fmt.Errorf("http: listen %s: %w", o.Listen, err)
	}
	s := &Server{o: o, ln: ln}
	mux := http.NewServeMux()
	if o.Metrics != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(o.Metrics.Registry, promhttp.HandlerOpts{Registry: o.Metrics.Registry}))
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("GET /customers/{id}", s.customer)
	if o.Mount != nil {
		o.Mount(mux, nil)
	}
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return s, nil
}

// Addr is the bound address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Run serves until ctx is done.
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("http: shutdown: %w", err)
	}
	return nil
}

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	if s.o.Ready != nil && !s.o.Ready() {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ready")
}

func (s *Server) customer(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if id == "" || len(id) > 256 {
		http.Error(w, "bad customer id", http.StatusBadRequest)
		return
	}
	var parts []int32
	if s.o.Partitions != nil {
		parts = s.o.Partitions()
	}
	v, ok, err := LookupCustomer(s.o.Store, ViewOptions{Window: s.o.Window, HalfLife: s.o.HalfLife}, parts, id)
	if err != nil {
		s.o.Logger.Error("customer view", "err", err)
		http.Error(w, "state read failed", http.StatusInternalServerError)
		return
	}
	if !ok {
		http.Error(w, "customer not found on this instance", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
