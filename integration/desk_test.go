//go:build integration

package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/internal/testkit"
)

// deskUser calls one instance's desk API as a user named by the trusted
// proxy header.
type deskUser struct {
	addr, name, csrf string
	client           *http.Client // with the session cookie that carries the anti-forgery seed
}

func (u *deskUser) call(t testing.TB, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://"+u.addr+path, rd)
	require.NoError(t, err)
	req.Header.Set("X-Forwarded-User", u.name)
	if method != http.MethodGet {
		if u.csrf == "" {
			st, me := u.call(t, http.MethodGet, "/api/me", nil)
			require.Equal(t, http.StatusOK, st, "/api/me: %v", me)
			u.csrf, _ = me["csrf_token"].(string)
		}
		req.Header.Set("X-CSRF-Token", u.csrf)
	}
	if u.client == nil {
		jar, _ := cookiejar.New(nil)
		u.client = &http.Client{Timeout: 20 * time.Second, Jar: jar}
	}
	resp, err := u.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var v map[string]any
	_ = json.Unmarshal(b, &v)
	return resp.StatusCode, v
}

func (u *deskUser) holder(t testing.TB, cust string) string {
	st, v := u.call(t, http.MethodGet, "/api/cases/"+cust, nil)
	if st != http.StatusOK {
		return ""
	}
	c, _ := v["case"].(map[string]any)
	cl, _ := c["claim"].(map[string]any)
	by, _ := cl["by"].(string)
	return by
}

// TestDeskTwoInstancesRealBroker: two peakend processes in one group on a
// real broker show one queue; a claim made on one shows on the other, and
// two simultaneous claims of one case on different instances end with
// exactly one holder, the same on both.
func TestDeskTwoInstancesRealBroker(t *testing.T) {
	bs := brokers(t)
	n := newNames(t, "desk")
	createTopics(t, bs, 4, n.Experiences)
	extra := extraYAML{Top: "desk: {enabled: true, proxy: {header: X-Forwarded-User, trusted: [127.0.0.1/32]}}\n"}
	path1, cfg := writeConfigWith(t, bs, n, "", extra)
	n2 := n
	n2.State = t.TempDir()
	path2, _ := writeConfigWith(t, bs, n2, "", extra)
	p1 := startPeakend(t, path1)
	p2 := startPeakend(t, path2)

	const custs = 12
	t0 := time.Now().UTC().Add(-time.Hour)
	var recs []testkit.Record
	for i := range custs {
		c := fmt.Sprintf("desk-%02d", i)
		recs = append(recs, testkit.Record{Key: []byte(c), Value: fmt.Appendf(nil,
			`{"event_id":"e%d","customer_id":%q,"time":%q,"journey":"delivery","outcome":"delivered","metrics":{"delay_hours":100},"customer":{"tier":"gold","value":%d}}`,
			i, c, t0.Format(time.RFC3339), 100*i)})
	}
	testkit.Produce(t, testkit.Client(t, bs), cfg.Kafka.Topics.Experiences, recs)

	ana := &deskUser{addr: p1.Addr, name: "ana"}
	bo := &deskUser{addr: p2.Addr, name: "bo"}
	for _, u := range []*deskUser{ana, bo} {
		testkit.Eventually(t, 60*time.Second, "every case on "+u.addr, func() bool {
			st, v := u.call(t, http.MethodGet, "/api/queue", nil)
			cs, _ := v["cases"].([]any)
			return st == http.StatusOK && len(cs) == custs
		})
	}

	// A claim made on one instance shows on the other.
	st, v := ana.call(t, http.MethodPost, "/api/cases/desk-00/claim", nil)
	require.Equal(t, http.StatusOK, st, "%v", v)
	testkit.Eventually(t, 10*time.Second, "ana's claim on the other instance", func() bool { return bo.holder(t, "desk-00") == "ana" })
	st, v = bo.call(t, http.MethodPost, "/api/cases/desk-00/claim", nil)
	require.Equal(t, http.StatusConflict, st)
	require.Equal(t, "ana", v["claimed_by"])

	// Simultaneous claims on both instances: exactly one holder, on both.
	for i := 1; i < custs; i++ {
		c := fmt.Sprintf("desk-%02d", i)
		var wg sync.WaitGroup
		var s1, s2 int
		var v1, v2 map[string]any
		wg.Go(func() { s1, v1 = ana.call(t, http.MethodPost, "/api/cases/"+c+"/claim", nil) })
		wg.Go(func() { s2, v2 = bo.call(t, http.MethodPost, "/api/cases/"+c+"/claim", nil) })
		wg.Wait()
		require.ElementsMatch(t, []int{http.StatusOK, http.StatusConflict}, []int{s1, s2}, "%s: %v / %v", c, v1, v2)
		winner := "ana"
		if s2 == http.StatusOK {
			winner = "bo"
		}
		testkit.Eventually(t, 10*time.Second, c+" held by the winner on both", func() bool {
			return ana.holder(t, c) == winner && bo.holder(t, c) == winner
		})
	}
	// Every claim written is on the feedback topic: one for desk-00, one or
	// two per raced case (a loser that already saw the winner's claim is
	// answered 409 without writing).
	fb := testkit.ReadCommitted(t, bs, cfg.Kafka.Topics.Feedback)
	require.GreaterOrEqual(t, len(fb), custs)
	require.LessOrEqual(t, len(fb), 2*custs-1)
	p1.terminate(t, 10*time.Second)
	p2.terminate(t, 10*time.Second)
}
