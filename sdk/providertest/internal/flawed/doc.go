// Package flawed holds providers with one deliberate mistake each, for the
// conformance kit's self-check: the kit must fail every one of them, and
// pass the same providers without a flaw.
package flawed
