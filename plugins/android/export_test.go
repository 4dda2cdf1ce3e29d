package android

// Failure exposes the mapping of the app's error texts to the tests.
var Failure = failure
