package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/peakend/peakend/config"
)

// ConnOpts are the franz-go options that reach the configured brokers:
// seed brokers, client id, TLS and SASL (kafka.tls, kafka.sasl). Every
// client peakend makes for the configured cluster starts with them.
func ConnOpts(k *config.Kafka) ([]kgo.Opt, error) {
	opts := []kgo.Opt{kgo.SeedBrokers(k.Brokers...), kgo.ClientID(k.ClientID)}
	tc, err := k.TLS.Config()
	if err != nil {
		return nil, fmt.Errorf("stream: %w", err)
	}
	if tc != nil {
		// An empty ServerName is set by franz-go to each broker's host.
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if m := saslMechanism(&k.SASL); m != nil {
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}

// saslMechanism returns the configured mechanism, or nil. Credentials are
// read on every connection (a rotated password file is picked up).
func saslMechanism(s *config.SASL) sasl.Mechanism {
	creds := func() (string, string, error) { return s.Credentials(nil) }
	switch s.Mechanism {
	case config.SASLPlain:
		return plain.Plain(func(context.Context) (plain.Auth, error) {
			u, p, err := creds()
			return plain.Auth{User: u, Pass: p}, err
		})
	case config.SASLScramSHA256, config.SASLScramSHA512:
		auth := func(context.Context) (scram.Auth, error) {
			u, p, err := creds()
			return scram.Auth{User: u, Pass: p}, err
		}
		if s.Mechanism == config.SASLScramSHA256 {
			return scram.Sha256(auth)
		}
		return scram.Sha512(auth)
	}
	return nil
}

// brokerHealth tracks whether the brokers are reachable, from franz-go's
// hooks: a failed dial, TLS handshake or SASL exchange, or a failed read,
// marks them down; a fetch response read in full marks them up again
// (fetches are long polls, so one completes every few seconds even when
// no records arrive). The Runner is not ready while they are down.
type brokerHealth struct {
	down   func(err error)
	up     func()
	closed func() bool // the runner is stopping: errors are expected
	// fetchless reports that no partition is assigned: then a heartbeat
	// answered shows the brokers back, since no fetch will.
	fetchless func() bool
}

var (
	_ kgo.HookBrokerConnect = brokerHealth{}
	_ kgo.HookBrokerRead    = brokerHealth{}
)

func (h brokerHealth) OnBrokerConnect(_ kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err != nil && !h.closed() && !errors.Is(err, context.Canceled) {
		h.down(err)
	}
}

func (h brokerHealth) OnBrokerRead(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	switch {
	case err == nil && (key == kmsg.Fetch.Int16() || key == kmsg.Heartbeat.Int16() && h.fetchless != nil && h.fetchless()):
		h.up()
	case err != nil && !h.closed() && !errors.Is(err, context.Canceled):
		h.down(err)
	}
}

// outage and recovered flip the broker-health half of readiness, logging
// each change once.
func (r *Runner) outage(err error) {
	if r.brokersDown.CompareAndSwap(false, true) {
		r.log.Warn("kafka unreachable: not ready until a fetch succeeds", "err", err)
		r.publishReady()
	}
}

func (r *Runner) recovered() {
	if r.brokersDown.CompareAndSwap(true, false) {
		r.log.Info("kafka reachable again")
		r.publishReady()
	}
}

// warnPlainText warns when a SASL password would cross the network in the clear.
func warnPlainText(k *config.Kafka, log *slog.Logger) {
	if k.SASL.Mechanism == config.SASLPlain && !k.TLS.Enabled {
		log.Warn("kafka.sasl PLAIN without kafka.tls: the password crosses the network in the clear")
	}
}
