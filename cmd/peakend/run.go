package main

import (
	"context"
	"io"
	"os"
	"strings"

	"github.com/peakend/peakend/internal/app"
)

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run", "peakend run --config FILE [--brokers HOST:PORT,...]", stdout, stderr)
	path := fs.String("config", "", "configuration file (YAML)")
	brokers := fs.String("brokers", "", "seed brokers, comma-separated (overrides the config and PEAKEND_BROKERS)")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		return err
	}
	if b := firstNonEmpty(*brokers, os.Getenv("PEAKEND_BROKERS")); b != "" {
		cfg.Kafka.Brokers = strings.Split(b, ",")
	}
	log, err := newLogger(stderr, *level)
	if err != nil {
		return err
	}
	return app.Run(ctx, app.Options{Config: cfg, Logger: log})
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
