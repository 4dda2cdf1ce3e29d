// Package console serves the operators' web console at /console: HTML pages
// rendered on the server from the answers of the JSON API, called with the
// signed-in admin's key, so the console can do nothing the API would not
// let that key do.
package console
