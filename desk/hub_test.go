package desk

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSlowSubscriberIsDroppedNotWaitedFor(t *testing.T) {
	h := newHub(2, nil)
	slow, fast := h.subscribe(), h.subscribe()
	for i := range 5 {
		h.send("case", map[string]int{"i": i}) // never blocks
		<-fast.ch
	}
	select {
	case <-slow.gone:
	default:
		t.Fatal("a subscriber 2 events behind is still subscribed")
	}
	require.Equal(t, 1, h.subscribers())
	select {
	case <-fast.gone:
		t.Fatal("a subscriber keeping up was dropped")
	default:
	}
}
