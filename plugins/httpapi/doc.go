// Package httpapi is a provider plugin for HTTP aggregators (JSON or XML bulk
// send, status polling, balance and sender-name queries) whose requests and
// answers are described by configuration, so that onboarding a new aggregator
// needs no Go code.
//
// Settings are documented in docs/httpapi.md. A preset ("aggregator002" for
// the JSON API, "aggregator002_xml" for its XML flavour) supplies every
// operation; the provider block's config is merged over it key by key, so an
// operator overrides only what differs (a URL, the auth style, one status).
package httpapi
