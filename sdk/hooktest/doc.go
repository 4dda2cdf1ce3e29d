// Package hooktest records what a provider's HookHandler answers, for tests
// that call HandleHook directly, the way net/http/httptest records an
// http.Handler; it holds the handler to the same rules the host does.
package hooktest
