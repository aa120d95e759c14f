package desk_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/desk"
	"github.com/peakend/peakend/internal/testkit"
	"github.com/peakend/peakend/state"
	"github.com/peakend/peakend/stream"
)

func TestRestartRestoresTheViewAndReadsOnlyTheTail(t *testing.T) {
	brokers := testkit.Cluster(t)
	cfg := testConfig(t, brokers)
	dir := t.TempDir()
	td := startDesk(t, cfg, deskOpts{dir: dir})
	cl := testkit.Client(t, brokers)
	for _, c := range []string{"c1", "c2", "c3"} {
		produceAlert(t, cl, cfg, testAlert{ID: "a-" + c, Customer: c})
		waitCase(t, td, c, "opened", func(*desk.Case) bool { return true })
	}
	st, _ := td.do(t, "ana", "POST", "/api/cases/c1/claim", nil)
	require.Equal(t, 200, st)
	st, _ = td.do(t, "ana", "POST", "/api/cases/c2/outcome", map[string]any{"outcome": "unreachable"})
	require.Equal(t, 200, st)
	td.stop(t)

	// While it is down: one more alert and one more claim.
	produceAlert(t, cl, cfg, testAlert{ID: "a-c4", Customer: "c4"})
	now := time.Now().UTC().Format(time.RFC3339Nano)
	produceFeedback(t, cl, cfg, "c3", []byte(`{"feedback_id":"x","alert_id":"a-c3","customer_id":"c3","time":"`+now+`","action":"claim","by":"bo"}`))

	td = startDesk(t, cfg, deskOpts{dir: dir})
	require.Equal(t, int64(2), td.RecordsRead(), "a restart reads only the records written since")
	q := td.queue(t, "")
	require.Len(t, q, 3)
	require.Equal(t, "ana", td.Case("c1").Claim.By)
	require.Equal(t, "bo", td.Case("c3").Claim.By)
	require.NotNil(t, td.Case("c4"))
	require.Nil(t, td.Case("c2"))
	h, err := td.History("c2")
	require.NoError(t, err)
	require.Len(t, h, 1)
	require.Equal(t, "unreachable", h[0].Outcome.Outcome)

	// A fresh instance (empty store) rebuilds the same view from the topics.
	fresh := startDesk(t, cfg, deskOpts{})
	require.Len(t, fresh.queue(t, ""), 3)
	require.Equal(t, "bo", fresh.Case("c3").Claim.By)
}

func TestKeepPrunesClosedCases(t *testing.T) {
	brokers := testkit.Cluster(t)
	cfg := testConfig(t, brokers)
	cfg.Desk.Keep = config.Duration(48 * time.Hour)
	clk := &clock{t: time.Now().UTC()}
	td := startDesk(t, cfg, deskOpts{clock: clk, owns: true})
	cl := testkit.Client(t, brokers)
	produceAlert(t, cl, cfg, testAlert{ID: "old", Customer: "c"})
	produceAlert(t, cl, cfg, testAlert{ID: "open", Customer: "d"})
	waitCase(t, td, "c", "opened", func(*desk.Case) bool { return true })
	waitCase(t, td, "d", "opened", func(*desk.Case) bool { return true })
	st, _ := td.do(t, "ana", "POST", "/api/cases/c/outcome", map[string]any{"outcome": "declined"})
	require.Equal(t, 200, st)
	h, _ := td.History("c")
	require.Len(t, h, 1)

	clk.Add(47 * time.Hour)
	time.Sleep(1500 * time.Millisecond)
	h, _ = td.History("c")
	require.Len(t, h, 1, "kept for desk.keep")
	clk.Add(2 * time.Hour)
	testkit.Eventually(t, 10*time.Second, "closed case pruned after desk.keep", func() bool {
		h, _ := td.History("c")
		return len(h) == 0
	})
	require.NotNil(t, td.Case("d"), "open cases stay, however old")
}

func TestEventStreamSendsCaseAndClosed(t *testing.T) {
	brokers := testkit.Cluster(t)
	cfg := testConfig(t, brokers)
	td := startDesk(t, cfg, deskOpts{tune: func(o *desk.Options) { o.Ping = 200 * time.Millisecond }})
	cl := testkit.Client(t, brokers)

	req, err := http.NewRequest("GET", td.srv.URL+"/api/events", nil)
	require.NoError(t, err)
	req.Header.Set("X-Test-User", "ana")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	next := func(prefix string) string {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				require.True(t, ok, "stream ended before %q", prefix)
				if strings.HasPrefix(l, prefix) {
					return l
				}
			case <-deadline:
				t.Fatalf("no %q on the event stream", prefix)
			}
		}
	}
	next(": ping")
	produceAlert(t, cl, cfg, testAlert{ID: "a", Customer: "c-sse"})
	require.Equal(t, "event: case", next("event: "))
	require.Contains(t, next("data: "), `"customer_id":"c-sse"`)
	st, _ := td.do(t, "ana", "POST", "/api/cases/c-sse/claim", nil)
	require.Equal(t, 200, st)
	require.Equal(t, "event: case", next("event: "))
	require.Contains(t, next("data: "), `"claim":{"by":"ana"`)
	st, _ = td.do(t, "ana", "POST", "/api/cases/c-sse/outcome", map[string]any{"outcome": "false_alarm"})
	require.Equal(t, 200, st)
	require.Equal(t, "event: closed", next("event: "))
	require.Equal(t, `data: {"customer_id":"c-sse"}`, next("data: "))

	// Without a user, no stream.
	st, _ = td.do(t, "", "GET", "/api/events", nil)
	require.Equal(t, 401, st)
}

func TestDeskKeysAreNotPartitionState(t *testing.T) {
	brokers := testkit.Cluster(t)
	cfg := testConfig(t, brokers)
	td := startDesk(t, cfg, deskOpts{})
	cl := testkit.Client(t, brokers)
	// Customer ids chosen so that desk keys look like partition keys
	// to a scan by kind and partition.
	for _, c := range []string{"\x00\x00", "\x00\x01x", "\x00\x02"} {
		produceAlert(t, cl, cfg, testAlert{ID: "a" + c, Customer: c})
		waitCase(t, td, c, "opened", func(*desk.Case) bool { return true })
	}
	// An open case's key is D c cust: to a scan by kind and partition it
	// is partition 'c'<<8 | cust[0].
	for _, p := range []int32{0, 1, 'c' << 8, 'c'<<8 | 1, 'a' << 8} {
		has, err := td.store.HasState(p)
		require.NoError(t, err)
		require.False(t, has, "partition %d", p)
		require.NoError(t, td.store.WipePartition(p))
	}
	b := td.store.NewBatch(0)
	defer b.Close()
	require.NoError(t, b.Apply(state.OffsetKey(0, "experiences"), []byte("12345678")))
	n := 0
	require.NoError(t, b.Ops(func(k, v []byte) error { n++; return nil }))
	require.Equal(t, 1, n)
	require.Len(t, td.queue(t, ""), 3, "a wipe keeps the desk's view")
}

func TestTopicsCreatedWithRetentionOfKeep(t *testing.T) {
	brokers := testkit.Cluster(t)
	cfg := testConfig(t, brokers)
	cfg.Desk.Keep = config.Duration(45 * 24 * time.Hour)
	startDesk(t, cfg, deskOpts{})
	adm := kadm.NewClient(testkit.Client(t, brokers))
	rcs, err := adm.DescribeTopicConfigs(context.Background(), cfg.Kafka.Topics.Alerts, cfg.Kafka.Topics.Feedback)
	require.NoError(t, err)
	require.Len(t, rcs, 2)
	for _, rc := range rcs {
		require.NoError(t, rc.Err)
		found := false
		for _, c := range rc.Configs {
			if c.Key == "retention.ms" {
				found = true
				require.Equal(t, fmt.Sprint((45 * 24 * time.Hour).Milliseconds()), c.MaybeValue(), rc.Name)
			}
		}
		require.True(t, found, "%s has no retention.ms", rc.Name)
	}
}

func TestShortRetentionOfAnExistingTopicIsWarned(t *testing.T) {
	brokers := testkit.Cluster(t)
	cfg := testConfig(t, brokers)
	adm := kadm.NewClient(testkit.Client(t, brokers))
	day := "86400000"
	_, err := adm.CreateTopic(context.Background(), 4, 1, map[string]*string{"retention.ms": &day}, cfg.Kafka.Topics.Feedback)
	require.NoError(t, err)
	var logs testkit.SyncBuffer
	require.NoError(t, stream.EnsureTopics(context.Background(), cfg, slog.New(slog.NewTextHandler(&logs, nil))))
	require.Contains(t, logs.String(), "topic keeps records for less than desk.keep")
	require.Contains(t, logs.String(), "topic="+cfg.Kafka.Topics.Feedback+" retention=24h0m0s")
	require.NotContains(t, logs.String(), "topic="+cfg.Kafka.Topics.Alerts+" retention", "the alerts topic was created with desk.keep")
}
