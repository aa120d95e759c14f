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

func (m *coMember) Balance(topics map[string]int32) kgo.IntoSyncAssignment {
	leadN, ok := topics[m.lead]
	if !ok {
		return m.inner.Balance(topics) // nothing to align with
	}
	plan := m.inner.Balance(map[string]int32{m.lead: leadN})
	bp, ok := plan.(*kgo.BalancePlan)
	if !ok {
		return plan
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
	return bp
}
