// Command peakend is the streaming worst-experience detector: run, demo,
// replay, tune, validate, hash-password and version (see `peakend --help`).
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/peakend/peakend/config"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Exit codes (docs/reference.md, "Commands").
const (
	exitOK      = 0
	exitRuntime = 1
	exitUsage   = 2
)

// usageError is bad usage or configuration: exit status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

const topUsage = `peakend: a streaming worst-experience detector on Kafka.

Usage:
  peakend run --config FILE [--brokers HOST:PORT,...]   consume, detect, alert
  peakend demo [--listen :8080] [--rate 300]          everything on one machine, no set-up
  peakend replay --config FILE --input EVENTS.jsonl     the same detection over a file
                 [--complaints FILE] [--out ALERTS.jsonl] [--dlq BAD.jsonl] [--state DIR] [--report]
  peakend tune --config FILE --input EVENTS.jsonl       settings tuned to the team's capacity
               --complaints FILE [--feedback FILE] [--capacity N/day] [--write FILE.yaml]
  peakend validate --config FILE                        check a configuration
  peakend hash-password [--cost N] < PASSWORD           bcrypt hash for a desk account's password_hash
  peakend version                                       version and build information

Every command answers --help. Exit status: 0 success, 1 runtime failure, 2 bad usage or configuration.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, topUsage)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "run":
		err = cmdRun(ctx, rest, stdout, stderr)
	case "demo":
		err = cmdDemo(ctx, rest, stdout, stderr)
	case "replay":
		err = cmdReplay(ctx, rest, stdin, stdout, stderr)
	case "tune":
		err = cmdTune(ctx, rest, stdout, stderr)
	case "validate":
		err = cmdValidate(rest, stdout, stderr)
	case "hash-password":
		err = cmdHashPassword(rest, stdin, stdout, stderr)
	case "version":
		err = cmdVersion(rest, stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, topUsage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "peakend: unknown command %q (try peakend --help)\n", cmd)
		return exitUsage
	}
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, new(usageError)):
		fmt.Fprintf(stderr, "peakend: %v\n", oneLine(err))
		return exitUsage
	case errors.Is(err, context.Canceled):
		return exitOK
	default:
		fmt.Fprintf(stderr, "peakend: %v\n", oneLine(err))
		return exitRuntime
	}
}

// oneLine keeps the "one clear line" promise for runtime errors, but lets a
// config's list of problems (one per line, each with file:line) through.
func oneLine(err error) string {
	var ce config.Errors
	if errors.As(err, &ce) {
		return "invalid configuration:\n" + err.Error()
	}
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}

// flags is a command's flag set. Asked for (--help), its usage goes to
// standard output, like `peakend --help`; a bad flag is one line on
// standard error.
type flags struct {
	*flag.FlagSet
	stdout io.Writer
}

func newFlags(name, usage string, stdout, stderr io.Writer) *flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s\n\nFlags:\n", usage)
		fs.PrintDefaults()
	}
	return &flags{FlagSet: fs, stdout: stdout}
}

func parse(fs *flags, args []string) error {
	// The flag package prints the usage for --help and for every bad flag:
	// keep it for --help only.
	var out bytes.Buffer
	stderr := fs.Output()
	fs.SetOutput(&out)
	err := fs.Parse(args)
	fs.SetOutput(stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			_, _ = fs.stdout.Write(out.Bytes())
			return err
		}
		return usagef("%v (see peakend %s --help)", err, fs.Name())
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q (see peakend %s --help)", fs.Arg(0), fs.Name())
	}
	return nil
}

func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		return nil, usagef("--config is required")
	}
	cfg, err := config.Load(path)
	if err != nil {
		var ce config.Errors
		var e *config.Error
		if errors.As(err, &ce) || errors.As(err, &e) {
			return nil, usageError{err}
		}
		if errors.Is(err, os.ErrNotExist) {
			return nil, usageError{err}
		}
		return nil, usageError{err}
	}
	return cfg, nil
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, usagef("--log-level: %v", err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

func cmdValidate(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("validate", "peakend validate --config FILE", stdout, stderr)
	path := fs.String("config", "", "configuration file (YAML)")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: ok (%d detectors, %d sinks)\n", *path, len(cfg.Detectors), len(cfg.Alerting.Sinks))
	return nil
}

func cmdVersion(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("version", "peakend version", stdout, stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	bi, _ := debug.ReadBuildInfo()
	_, err := io.WriteString(stdout, versionText(version, bi))
	return err
}

// versionText is what `peakend version` prints: the version (-ldflags
// "-X main.version=..."), the commit the binary was built from with its
// time and whether the checkout had uncommitted changes (the go command
// records them when it builds from a git checkout, unless -buildvcs=false),
// and the Go version and platform. bi may be nil.
//
//	peakend v1.4.0
//	commit 0072f6b3c1d2e4f5a6b7c8d9e0f1a2b3c4d5e6f7 (2026-12-03T12:41:07Z, modified)
//	go1.26.8 linux/amd64
func versionText(version string, bi *debug.BuildInfo) string {
	commit := "unknown (not built from a git checkout)"
	goVersion := runtime.Version()
	if bi != nil {
		var rev, at string
		modified := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				at = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if rev != "" {
			var notes []string
			if at != "" {
				notes = append(notes, at)
			}
			if modified {
				notes = append(notes, "modified")
			}
			commit = rev
			if len(notes) > 0 {
				commit += " (" + strings.Join(notes, ", ") + ")"
			}
		}
		if bi.GoVersion != "" {
			goVersion = bi.GoVersion
		}
	}
	return fmt.Sprintf("peakend %s\ncommit %s\n%s %s/%s\n", version, commit, goVersion, runtime.GOOS, runtime.GOARCH)
}
