# Nothing configured at all.
