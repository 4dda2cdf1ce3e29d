// Package aggregatortest is a fake HTTP SMS aggregator speaking the JSON API
// of the regional aggregator the httpapi presets target (and an XML flavour
// of the same operations) over real HTTP, with injectable throttling,
// duplicate refusals, errors, malformed and slow answers, for tests.
package aggregatortest
