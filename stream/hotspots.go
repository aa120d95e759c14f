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
	"github.com/peakend/peakend/engine"
	"github.com/peakend/peakend/hotspots"
)

// Live hotspots (docs/hotspots.md): the internal topic
// peakend-<group>-hotspots has the experiences topic's partition count and
// is the fourth co-partitioned input. Each partition's cycle sends every
// partition of it a partial (hotspots.Split: the cells of the keys that
// partition owns, murmur2 of the hotspot key, plus the totals and the
// watermark), and each hotspot alert's news (hotspots.State), in the same
// produce (or transaction) as the cycle's alerts and changelog. Partition
// q of the topic is processed by engine partition q (Partition.Hotspot).

// HotspotsTopic is the hotspots topic of a consumer group.
func HotspotsTopic(group string) string { return "peakend-" + group + "-hotspots" }

// hotspotsRetention: partials are read within seconds; a week covers an
// owner that is down for days.
const hotspotsRetention = "604800000"

// EnsureHotspotsTopic creates the group's hotspots topic if the
// configuration has hotspot rules and it is missing, with the experiences
// topic's partition count (which it returns). An existing one with another
// partition count is an error: keys would be owned by the wrong partition.
func EnsureHotspotsTopic(ctx context.Context, cfg *config.Config, log *slog.Logger, extra ...kgo.Opt) (int, error) {
	if len(cfg.Hotspots) == 0 {
		return 0, nil
	}
	adm, err := adminClient(cfg, extra)
	if err != nil {
		return 0, err
	}
	defer adm.Close()
	exp, topic := cfg.Kafka.Topics.Experiences, HotspotsTopic(cfg.Kafka.Group)
	for {
		ds, err := adm.ListTopics(ctx, exp, topic)
		if err != nil {
			return 0, fmt.Errorf("stream: list topics: %w", err)
		}
		in, ok := ds[exp]
		if !ok || in.Err != nil || len(in.Partitions) == 0 {
			return 0, fmt.Errorf("stream: experiences topic %s not found", exp)
		}
		n := len(in.Partitions)
		if hs, ok := ds[topic]; ok && hs.Err == nil {
			if len(hs.Partitions) != n {
				return 0, fmt.Errorf("stream: hotspots topic %s has %d partitions, not the %d of %s: delete it",
					topic, len(hs.Partitions), n, exp)
			}
			return n, nil
		}
		_, err = adm.CreateTopic(ctx, int32(n), int16(cfg.Kafka.Replication),
			map[string]*string{"retention.ms": kadm.StringPtr(hotspotsRetention)}, topic)
		switch {
		case err == nil:
			log.Info("created topic", "topic", topic, "partitions", n)
			return n, nil
		case errors.Is(err, kerr.TopicAlreadyExists):
			continue // created concurrently: check its partitions
		}
		return 0, fmt.Errorf("stream: create hotspots topic %s: %w", topic, err)
	}
}

// hotspotRecords appends the records a staged partition sends to the
// hotspots topic: its partial, split over every partition, when due, and
// the news of its hotspot alerts to every partition.
func (r *Runner) hotspotRecords(out []*kgo.Record, pt *engine.Partition) ([]*kgo.Record, error) {
	o, n := pt.Output(), r.hsParts
	if n == 0 || r.hsTopic == "" {
		return out, nil
	}
	if o.SendHotspots {
		for q, part := range hotspots.Split(&o.Hotspots, r.o.Engine.HotspotRules(), n) {
			b, err := (&hotspots.Msg{Partial: part}).Encode()
			if err != nil {
				return out, err
			}
			out = append(out, &kgo.Record{Topic: r.hsTopic, Partition: int32(q), Value: b})
		}
	}
	for _, s := range o.HotspotStates {
		b, err := (&hotspots.Msg{State: s}).Encode()
		if err != nil {
			return out, err
		}
		for q := range n {
			out = append(out, &kgo.Record{Topic: r.hsTopic, Partition: int32(q), Key: []byte(s.Key), Value: b})
		}
	}
	return out, nil
}
