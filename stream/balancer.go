package stream

import (
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// coPartitioned wraps the cooperative-sticky balancer so that partition p of
// every companion topic (complaints) goes to the member that owns partition
// p of the lead topic (experiences), as Kafka Streams co-partitions joins.
// A customer's complaint then lands on the instance that holds their state.
// Companion topics must have the lead topic's partition count; extra
// partitions of a companion are not assigned.
type coPartitioned struct {
	kgo.GroupBalancer
	lead string
}

func newCoPartitioned(lead string) kgo.GroupBalancer {
	return &coPartitioned{GroupBalancer: kgo.CooperativeStickyBalancer(), lead: lead}
}

func (b *coPartitioned) MemberBalancer(members []kmsg.JoinGroupResponseMember) (kgo.GroupMemberBalancer, map[string]struct{}, error) {
	inner, topics, err := b.GroupBalancer.MemberBalancer(members)
	if err != nil {
		return nil, nil, err
	}
	return &coMember{inner: inner, lead: b.lead, members: members}, topics, nil
}

type coMember struct {
	inner   kgo.GroupMemberBalancer
	lead    string
	members []kmsg.JoinGroupResponseMember
}

// Balance satisfies kgo.GroupMemberBalancer; franz-go calls BalanceOrError
// instead (the built-in balancers panic in Balance).
func (m *coMember) Balance(topics map[string]int32) kgo.IntoSyncAssignment {
	plan, _ := m.BalanceOrError(topics)
	return plan
}

// SetBalanceInfo passes the group's information on to the inner balancer.
func (m *coMember) SetBalanceInfo(info kgo.BalanceInfo) {
	if ib, ok := m.inner.(kgo.GroupMemberBalancerInfo); ok {
		ib.SetBalanceInfo(info)
	}
}

func (m *coMember) balanceInner(topics map[string]int32) (kgo.IntoSyncAssignment, error) {
	if ib, ok := m.inner.(kgo.GroupMemberBalancerOrError); ok {
		return ib.BalanceOrError(topics)
	}
	return m.inner.Balance(topics), nil
}

// BalanceOrError implements kgo.GroupMemberBalancerOrError: the lead topic
// is balanced by the inner balancer, and every companion topic mirrors it.
func (m *coMember) BalanceOrError(topics map[string]int32) (kgo.IntoSyncAssignment, error) {
	leadN, ok := topics[m.lead]
	if !ok {
		return m.balanceInner(topics) // nothing to align with
	}
	plan, err := m.balanceInner(map[string]int32{m.lead: leadN})
	if err != nil {
		return nil, err
	}
	bp, ok := plan.(*kgo.BalancePlan)
	if !ok {
		return plan, nil
	}
	byID := make(map[string]*kmsg.JoinGroupResponseMember, len(m.members))
	for i := range m.members {
		byID[m.members[i].MemberID] = &m.members[i]
	}
	for member, assigned := range bp.AsMemberIDMap() {
		ps := assigned[m.lead]
		if len(ps) == 0 || byID[member] == nil {
			continue
		}
		for topic, n := range topics {
			if topic == m.lead {
				continue
			}
			var mirror []int32
			for _, p := range ps {
				if p < n {
					mirror = append(mirror, p)
				}
			}
			bp.AddPartitions(byID[member], topic, mirror)
		}
	}
	return bp, nil
}
