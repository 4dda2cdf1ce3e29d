package store

import "github.com/smsrouter/smsrouter/core/dispatch"

// The store is the dispatcher's queue, the poller's and the cluster's.
var (
	_ dispatch.Queue       = (*Store)(nil)
	_ dispatch.ReportStore = (*Store)(nil)
	_ dispatch.Heartbeater = (*Store)(nil)
)

// claimed returns claimed rows as the dispatcher reads them: one slice for
// the batch, the strings shared with the rows.
func claimed(rows []Message) []dispatch.Message {
	out := make([]dispatch.Message, len(rows))
	for i := range rows {
		m := &rows[i]
		out[i] = dispatch.Message{ID: m.ID, AccountID: m.AccountID, Route: m.Route, Tags: decodeTags(m.Tags), Recipient: m.Recipient, Sender: m.Sender, Text: m.Text, Encoding: m.Encoding,
			Segments: m.Segments, Kind: m.Kind, Status: m.Status, Plan: m.Plan, Candidate: m.Candidate,
			Provider: m.Provider, ProviderMessageID: m.ProviderMessageID, Attempts: m.Attempts, ErrorCode: m.ErrorCode, ErrorMessage: m.ErrorMessage,
			LeaseUntil: m.LeaseUntil, ExpiresAt: m.ExpiresAt, CreatedAt: m.CreatedAt, SendAt: m.SendAt, SentAt: m.SentAt,
			PollCount: m.PollCount}
	}
	return out
}
