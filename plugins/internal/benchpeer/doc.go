// Package benchpeer runs a benchmark's simulated peers (phones, modems) in
// a child process of the test binary, so that the CPU time the benchmark
// reads with getrusage is the plugin's alone.
package benchpeer
