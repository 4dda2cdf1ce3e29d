// Package routing turns the operator's route blocks into a compiled table and
// answers, for one message's facts, which providers to try in which order.
//
// This is the seam the routing engine fills in: callers build Facts, call
// Table.Plan and walk the Plan's candidates, and that stays the same when
// expr match rules, candidate filters (cost, balance, health), strategies and
// explanations arrive. Until then only the default route exists: Compile
// refuses any other route with a clear error instead of accepting rules it
// would silently ignore.
package routing
