package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

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

// EnsureTopics creates the topics peakend writes (alerts, DLQ) if they are
// missing, with the configured partitions and replication. Topics it reads
// are not created: a typo there should not silently create an empty topic.
func EnsureTopics(ctx context.Context, cfg *config.Config, log *slog.Logger, extra ...kgo.Opt) error {
	adm, err := adminClient(cfg, extra)
	if err != nil {
		return err
	}
	defer adm.Close()
	want := []string{cfg.Kafka.Topics.Alerts, cfg.Kafka.Topics.DLQ}
	resp, err := adm.CreateTopics(ctx, int32(cfg.Kafka.Partitions), int16(cfg.Kafka.Replication), nil, want...)
	if err != nil {
		return fmt.Errorf("stream: create topics %v: %w", want, err)
	}
	for _, t := range resp.Sorted() {
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
