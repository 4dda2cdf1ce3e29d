package outbox_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/outbox"
)

// holder is a deliverer with room for room more deliveries that holds the
// seqs in held.
type holder struct {
	room int
	held map[string][]uint64
	// knows are the messages whose pending events the holder knows
	// without the database, when they stand at the status given.
	knows map[string]known
}

type known struct {
	before  message.Status
	pending []uint64
}

func (h holder) Knows(messageID string, before message.Status) ([]uint64, bool) {
	k, ok := h.knows[messageID]
	if !ok || k.before != before {
		return nil, false
	}
	return k.pending, true
}

func (h holder) Room() int { return h.room }

func (h holder) Holds(messageID string, seqs []uint64) bool {
	for _, s := range seqs {
		if !slices.Contains(h.held[messageID], s) {
			return false
		}
	}
	return true
}

type newDelivery struct {
	message  string
	sendable bool
}

func TestChoose(t *testing.T) {
	cases := []struct {
		name    string
		batch   []newDelivery
		first   bool
		pending map[string][]uint64
		handed  map[uint64]bool
		h       holder
		want    []outbox.Pick
	}{
		{name: "first events, room for all", first: true, h: holder{room: 10},
			batch: []newDelivery{{"m1", true}, {"m2", true}},
			want:  []outbox.Pick{{Index: 0}, {Index: 1}}},
		{name: "room runs out", first: true, h: holder{room: 1},
			batch: []newDelivery{{"m1", true}, {"m2", true}},
			want:  []outbox.Pick{{Index: 0}}},
		{name: "no room", first: true, h: holder{room: 0},
			batch: []newDelivery{{"m1", true}}},
		{name: "account events and deliveries with nowhere to go stay for claims", first: true, h: holder{room: 10},
			batch: []newDelivery{{"", true}, {"m1", false}, {"m2", true}},
			want:  []outbox.Pick{{Index: 2}}},
		{name: "only the first event of a message in a batch", first: true, h: holder{room: 10},
			batch: []newDelivery{{"m1", true}, {"m1", true}, {"m2", true}},
			want:  []outbox.Pick{{Index: 0}, {Index: 2}}},
		{name: "a message whose first delivery has nowhere to go hands over none", first: true, h: holder{room: 10},
			batch: []newDelivery{{"m1", false}, {"m1", true}}},
		{name: "behind older events the deliverer holds", h: holder{room: 10, held: map[string][]uint64{"m1": {3, 4}}},
			batch:   []newDelivery{{"m1", true}},
			pending: map[string][]uint64{"m1": {3, 4}},
			want:    []outbox.Pick{{Index: 0, After: []uint64{3, 4}}}},
		{name: "not behind an older event left to claims", h: holder{room: 10, held: map[string][]uint64{"m1": {3}}},
			batch:   []newDelivery{{"m1", true}, {"m2", true}},
			pending: map[string][]uint64{"m1": {3, 4}},
			want:    []outbox.Pick{{Index: 1}}},
		{name: "behind an older event the same transaction handed over", h: holder{room: 10},
			batch:   []newDelivery{{"m1", true}},
			pending: map[string][]uint64{"m1": {7}},
			handed:  map[uint64]bool{7: true},
			want:    []outbox.Pick{{Index: 0, After: []uint64{7}}}},
		{name: "out of order does not use up room", h: holder{room: 1},
			batch:   []newDelivery{{"m1", true}, {"m2", true}},
			pending: map[string][]uint64{"m1": {3}},
			want:    []outbox.Pick{{Index: 1}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := outbox.Batch{Len: len(tc.batch), Handed: tc.handed, Target: func(i int) (string, bool) {
				return tc.batch[i].message, tc.batch[i].sendable
			}}
			if !tc.first {
				b.Pending = func([]string) (map[string][]uint64, error) { return tc.pending, nil }
			}
			got, err := outbox.Choose(tc.h, b)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(got, tc.want, func(a, b outbox.Pick) bool { return a.Index == b.Index && slices.Equal(a.After, b.After) }) {
				t.Errorf("Choose = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestChooseReadsPendingOnlyWhenNeeded(t *testing.T) {
	reads := 0
	b := outbox.Batch{Len: 2, Target: func(i int) (string, bool) { return "", true },
		Pending: func([]string) (map[string][]uint64, error) { reads++; return nil, nil }}
	if _, err := outbox.Choose(holder{room: 10}, b); err != nil || reads != 0 {
		t.Fatalf("a batch of account events read pending events %d times (err %v), want none", reads, err)
	}
	boom := errors.New("database gone")
	b = outbox.Batch{Len: 1, Target: func(int) (string, bool) { return "m1", true },
		Pending: func([]string) (map[string][]uint64, error) { return nil, boom }}
	if _, err := outbox.Choose(holder{room: 10}, b); !errors.Is(err, boom) {
		t.Fatalf("Choose = %v, want the read's error", err)
	}
}

func TestStateFinished(t *testing.T) {
	for s, want := range map[outbox.State]bool{outbox.Pending: false, outbox.Delivered: true, outbox.GaveUp: true} {
		if s.Finished() != want {
			t.Errorf("%s.Finished() = %v", s, !want)
		}
	}
}

// Regression: Pending may sort the ids it is given (the store does, for
// its index); the pending events must still go with their own message.
func TestChooseWhenPendingReordersIDs(t *testing.T) {
	b := outbox.Batch{Len: 2, Target: func(i int) (string, bool) { return []string{"m2", "m1"}[i], true },
		Pending: func(ids []string) (map[string][]uint64, error) {
			slices.Sort(ids)
			return map[string][]uint64{"m1": {5}}, nil
		}}
	got, err := outbox.Choose(holder{room: 10}, b)
	if err != nil || len(got) != 1 || got[0].Index != 0 || got[0].After != nil {
		t.Fatalf("Choose = %v, %v; want only m2, behind nothing (m1 waits behind 5, not held)", got, err)
	}
}

// The order guard reads pending events only for the messages the holder
// does not know: a message whose last event it was handed, standing at the
// status that event moved it to.
func TestChooseAsksTheHolderBeforeReading(t *testing.T) {
	h := holder{room: 10, held: map[string][]uint64{"m2": {4}}, knows: map[string]known{
		"m1": {before: message.Sent},
		"m2": {before: message.Sent, pending: []uint64{4}},
		"m3": {before: message.Sent},
	}}
	cases := []struct {
		name   string
		ids    []string
		before []message.Status
		read   map[string][]uint64
		asked  []string
		want   []outbox.Pick
	}{
		{name: "every message known: no read", ids: []string{"m1", "m2"}, before: []message.Status{message.Sent, message.Sent},
			want: []outbox.Pick{{Index: 0}, {Index: 1, After: []uint64{4}}}},
		{name: "a message at another status than the holder knows it at is read",
			ids: []string{"m1", "m3"}, before: []message.Status{message.Sent, message.Unknown},
			read: map[string][]uint64{"m3": {9}}, asked: []string{"m3"}, want: []outbox.Pick{{Index: 0}}},
		{name: "unknown status before: read", ids: []string{"m1", "m4"}, before: []message.Status{message.Sent, ""},
			asked: []string{"m4"}, want: []outbox.Pick{{Index: 0}, {Index: 1}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var asked []string
			b := outbox.Batch{Len: len(tc.ids), Target: func(i int) (string, bool) { return tc.ids[i], true },
				Before: func(i int) message.Status { return tc.before[i] },
				Pending: func(ids []string) (map[string][]uint64, error) {
					asked = append(asked, ids...)
					return tc.read, nil
				}}
			got, err := outbox.Choose(h, b)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(asked, tc.asked) {
				t.Errorf("Pending asked about %v, want %v", asked, tc.asked)
			}
			if !slices.EqualFunc(got, tc.want, func(a, b outbox.Pick) bool { return a.Index == b.Index && slices.Equal(a.After, b.After) }) {
				t.Errorf("Choose = %v, want %v", got, tc.want)
			}
		})
	}
}
