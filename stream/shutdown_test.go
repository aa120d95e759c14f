package stream_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/peakend/peakend/internal/app"
	"github.com/peakend/peakend/internal/testkit"
)

// hangListener's connections stop answering (reads and writes block) once
// hung is set: a broker behind a network partition, or a frozen host, which
// unlike a dead one refuses nothing.
type hangListener struct {
	net.Listener
	hung    *atomic.Bool
	release chan struct{}
}

func (l hangListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return hangConn{c, l.hung, l.release}, nil
}

type hangConn struct {
	net.Conn
	hung    *atomic.Bool
	release chan struct{}
}

func (c hangConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if c.hung.Load() {
		<-c.release
		return 0, io.EOF
	}
	return n, err
}

func (c hangConn) Write(b []byte) (int, error) {
	if c.hung.Load() {
		<-c.release
		return 0, io.EOF
	}
	return c.Conn.Write(b)
}

// A stop (SIGTERM) while the broker does not answer still returns within
// 10 seconds, busy or idle, with exactly_once on or off: the cycle in hand is
// abandoned after the grace and done again on restart.
func TestStopWithinTenSecondsWhenBrokerHangs(t *testing.T) {
	for _, mode := range []string{"alo-busy", "eos-busy", "alo-idle", "eos-idle"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			eos := strings.HasPrefix(mode, "eos")
			var hung atomic.Bool
			release := make(chan struct{})
			c, brokers := testkit.FakeCluster(t, kfake.ListenFn(func(n, a string) (net.Listener, error) {
				l, err := net.Listen(n, a)
				if err != nil {
					return nil, err
				}
				return hangListener{l, &hung, release}, nil
			}))
			t.Cleanup(func() { close(release); c.Close() })
			cfg := perCustomerConfig(t, brokers)
			cfg.Kafka.ExactlyOnce = eos
			cfg.HTTP.Listen = "127.0.0.1:0"
			// A stop given up on leaves goroutines behind, still using the
			// store and logging: neither may outlive the test's own dir
			// and logger.
			dir, err := os.MkdirTemp("", "peakend-hang-")
			require.NoError(t, err)
			t.Cleanup(func() { _ = os.RemoveAll(dir) })
			cfg.State.Dir = dir
			opts := testkit.FastCommits()
			if eos {
				opts = testkit.EOSClientOpts()
			}
			addr := make(chan string, 1)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() {
				done <- app.Run(ctx, app.Options{Config: cfg, ClientOpts: opts, Logger: slog.New(slog.DiscardHandler),
					Listening: func(a string) { addr <- a }})
			}()
			a := <-addr
			prod := testkit.Client(t, brokers)
			testkit.Produce(t, prod, "experiences", testkit.Generate(2000, 100, 1, start, 10*time.Second))
			testkit.Eventually(t, 30*time.Second, "ready", func() bool { c, _ := testkit.Get(t, a, "/readyz"); return c == 200 })
			if strings.HasSuffix(mode, "busy") {
				go func() {
					for _, r := range testkit.Generate(200000, 1000, 2, start.Add(30*time.Hour), time.Second) {
						prod.Produce(context.Background(), &kgo.Record{Topic: "experiences", Key: r.Key, Value: r.Value}, nil)
					}
				}()
				time.Sleep(1500 * time.Millisecond)
			}
			hung.Store(true)
			time.Sleep(1500 * time.Millisecond)
			began := time.Now()
			cancel()
			select {
			case err := <-done:
				t.Logf("stopped %s after the signal; err: %v", time.Since(began).Round(time.Millisecond), err)
			case <-time.After(10 * time.Second):
				t.Fatalf("still running 10 s after the signal, with the broker not answering")
			}
		})
	}
}

// An instance that owns no partition (more instances than partitions) is
// ready again after a broker hiccup: no fetch of its own will show the
// brokers back, so an answered heartbeat does.
func TestReadyAgainAfterHiccupWithoutPartitions(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "experiences", "complaints"))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	brokers := c.ListenAddrs()
	var addrs []string
	for range 2 {
		cfg := perCustomerConfig(t, brokers)
		cfg.HTTP.Listen = "127.0.0.1:0"
		a := testkit.StartApp(t, app.Options{Config: cfg})
		addrs = append(addrs, a.Addr)
	}
	testkit.Produce(t, testkit.Client(t, brokers), "experiences", testkit.Generate(200, 10, 1, start, 10*time.Second))
	allReady := func() bool {
		for _, a := range addrs {
			if c, _ := testkit.Get(t, a, "/readyz"); c != 200 {
				return false
			}
		}
		return true
	}
	testkit.Eventually(t, 30*time.Second, "both ready", allReady)
	var n atomic.Int32
	c.ControlKey(kmsg.Heartbeat.Int16(), func(kmsg.Request) (kmsg.Response, error, bool) {
		if n.Add(1) > 2 {
			c.DropControl()
			return nil, nil, false
		}
		c.KeepControl()
		return nil, errors.New("connection dropped"), true
	})
	testkit.Eventually(t, 10*time.Second, "a heartbeat dropped", func() bool { return n.Load() >= 2 })
	testkit.Eventually(t, 20*time.Second, "both ready again after the hiccup", allReady)
}
