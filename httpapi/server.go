// Package httpapi serves peakend's HTTP endpoints (docs/reference.md, "HTTP"):
// metrics, health and readiness (open to all), the customer view and the
// desk (signed-in users only, package auth), over HTTP or HTTPS.
package httpapi

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/peakend/peakend/auth"
	"github.com/peakend/peakend/config"
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
	// Auth guards every customer-data path and serves /login and /logout.
	// Nil (or an Auth with neither accounts nor a proxy) refuses those
	// paths with 401 "sign-in is not configured".
	Auth *auth.Auth
	// Mount, if set, adds more handlers (the desk's page and API) to the
	// server's mux; require wraps a handler so that it needs a signed-in
	// user (Auth.Require, or the refusal above).
	Mount func(mux *http.ServeMux, require func(http.Handler) http.Handler)
	// TLS serves HTTPS with these files (http.tls); both empty: plain HTTP.
	TLS config.HTTPTLS
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
	var tlsConfig *tls.Config
	if o.TLS.CertFile != "" || o.TLS.KeyFile != "" {
		certs, err := loadCertFiles(o.TLS.CertFile, o.TLS.KeyFile, o.Logger)
		if err != nil {
			return nil, fmt.Errorf("http: http.tls: %w", err)
		}
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certs.get}
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
	require := o.Auth.Require // a nil *auth.Auth refuses all
	if o.Auth != nil {
		o.Auth.Mount(mux)
	}
	mux.Handle("GET /customers/{id}", require(http.HandlerFunc(s.customer)))
	if o.Mount != nil {
		o.Mount(mux, require)
	}
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, TLSConfig: tlsConfig}
	return s, nil
}

// Addr is the bound address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Run serves until ctx is done.
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() {
		if s.srv.TLSConfig != nil {
			errc <- s.srv.ServeTLS(s.ln, "", "") // the certificate is in TLSConfig; HTTP/2 offered
			return
		}
		errc <- s.srv.Serve(s.ln)
	}()
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
