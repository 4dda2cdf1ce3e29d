package message

// CodeHeld is the error code of a queued message a route holds until a
// time of day (hold_until, quiet_hours); its error message says until
// when, e.g. "held for quiet hours until 06:00 Asia/Yangon".
const CodeHeld = "HELD"

// CodeRouted marks the status change that records a scheduled message
// routed again at its send time: its reason names the route then and the
// decision it had at accept.
const CodeRouted = "ROUTED"
