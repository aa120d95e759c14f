package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/peakend/peakend/config"
)

// adminClient connects to the configured brokers (TLS and SASL included).
func adminClient(cfg *config.Config, extra []kgo.Opt) (*kadm.Client, error) {
	opts, err := ConnOpts(&cfg.Kafka)
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("stream: admin client: %w", err)
	}
	return kadm.NewClient(cl), nil
}

// EnsureTopics creates the topics peakend writes (alerts, DLQ) and the
// feedback topic (the desk writes it; the engine reads it, co-partitioned
// with the experiences) if they are missing, with the configured
// partitions and replication. With the desk on, the alerts and
// feedback topics keep their records at least desk.keep (and at least
// Kafka's default week), so that a restarted desk can rebuild its view
// from them. Topics it only reads are not created: a typo there should not
// silently create an empty topic.
func EnsureTopics(ctx context.Context, cfg *config.Config, log *slog.Logger, extra ...kgo.Opt) error {
	adm, err := adminClient(cfg, extra)
	if err != nil {
		return err
	}
	defer adm.Close()
	want := []string{cfg.Kafka.Topics.Alerts, cfg.Kafka.Topics.DLQ, cfg.Kafka.Topics.Feedback}
	desk := cfg.Desk.DeskOn()
	// Only missing topics are created: on a cluster with ACLs, creating
	// an existing topic without the right to create fails with
	// TOPIC_AUTHORIZATION_FAILED, not TOPIC_ALREADY_EXISTS.
	have, err := adm.ListTopics(ctx, want...)
	if err != nil {
		return fmt.Errorf("stream: list topics %v: %w", want, err)
	}
	want = slices.DeleteFunc(want, func(t string) bool { d, ok := have[t]; return ok && d.Err == nil })
	if desk {
		warnShortRetention(ctx, adm, cfg, log, slices.DeleteFunc([]string{cfg.Kafka.Topics.Alerts, cfg.Kafka.Topics.Feedback},
			func(t string) bool { return slices.Contains(want, t) }))
	}
	if len(want) == 0 {
		return nil
	}
	var results []kadm.CreateTopicResponse
	for _, t := range want {
		var configs map[string]*string
		if desk && (t == cfg.Kafka.Topics.Alerts || t == cfg.Kafka.Topics.Feedback) {
			configs = map[string]*string{"retention.ms": kadm.StringPtr(strconv.FormatInt(DeskRetention(cfg).Milliseconds(), 10))}
		}
		resp, err := adm.CreateTopics(ctx, int32(cfg.Kafka.Partitions), int16(cfg.Kafka.Replication), configs, t)
		if err != nil {
			return fmt.Errorf("stream: create topic %s: %w", t, err)
		}
		results = append(results, resp.Sorted()...)
	}
	for _, t := range results {
		switch {
		case t.Err == nil:
			log.Info("created topic", "topic", t.Topic, "partitions", cfg.Kafka.Partitions)
		case errors.Is(t.Err, kerr.TopicAlreadyExists):
		default:
			return fmt.Errorf("stream: create topic %s: %w", t.Topic, t.Err)
		}
	}
	return nil
}

// warnShortRetention warns about existing topics (the desk's alerts and
// feedback topics) that keep records for less than desk.keep: a desk
// started from scratch could not rebuild its view from them. A topic whose
// configuration cannot be read is passed over (no right to describe it).
func warnShortRetention(ctx context.Context, adm *kadm.Client, cfg *config.Config, log *slog.Logger, topics []string) {
	if len(topics) == 0 {
		return
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, topics...)
	if err != nil {
		return
	}
	for _, rc := range rcs {
		if rc.Err != nil {
			continue
		}
		for _, c := range rc.Configs {
			if c.Key != "retention.ms" {
				continue
			}
			ms, err := strconv.ParseInt(c.MaybeValue(), 10, 64)
			if err == nil && ms >= 0 && time.Duration(ms)*time.Millisecond < cfg.Desk.Keep.D() {
				log.Warn("topic keeps records for less than desk.keep: a desk started afresh shows only what is still on it",
					"topic", rc.Name, "retention", time.Duration(ms)*time.Millisecond, "desk.keep", cfg.Desk.Keep.D())
			}
		}
	}
}

// DeskRetention is the retention peakend gives the alerts and feedback
// topics it creates when the desk is on: desk.keep, and at least a week.
func DeskRetention(cfg *config.Config) time.Duration {
	return max(cfg.Desk.Keep.D(), 7*24*time.Hour)
}

// untilReachable calls fn until it succeeds, fails for a reason other than
// unreachable brokers, ctx ends, or `within` has passed. A peakend started
// before its brokers (a pod beside a Kafka still starting) waits for them,
// not ready, logging each try; a wrong password or an untrusted certificate
// still fails at once, and so, after `within`, does a mistyped address.
func untilReachable(ctx context.Context, log *slog.Logger, within time.Duration, fn func() error) error {
	giveUp := time.Now().Add(within)
	for wait := 500 * time.Millisecond; ; wait = min(2*wait, 15*time.Second) {
		err := fn()
		if err == nil || !unreachable(err) || ctx.Err() != nil {
			return err
		}
		left := time.Until(giveUp)
		if left <= 0 {
			return fmt.Errorf("%w (brokers unreachable for kafka.startup_wait, %s)", err, within)
		}
		wait = min(wait, left)
		log.Warn("brokers unreachable; retrying", "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// unreachable reports whether err means no broker could be reached (yet):
// refused or timed-out connections, unknown host names, and Kafka errors
// the protocol marks retriable. TLS and SASL failures are not.
func unreachable(err error) bool {
	var dns *net.DNSError
	var ne net.Error
	var ke *kerr.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH),
		errors.As(err, &dns):
		return true
	case errors.As(err, &ne) && ne.Timeout():
		return true
	case errors.As(err, &ke):
		return ke.Retriable
	}
	return false
}
