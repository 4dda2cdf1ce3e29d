package providertest

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
)

// recorder is a tb that keeps what the kit reports instead of failing the
// test it runs in, so the self-check can look at every failure.
type recorder struct {
	name   string
	parent *recorder
	ctx    context.Context
	cancel context.CancelFunc
	log    *recordLog

	mu       sync.Mutex
	failed   bool
	cleanups []func()
}

// recordLog is shared by a recorder and its subtests.
type recordLog struct {
	mu       sync.Mutex
	lines    []string // every line, for showing when the self-check fails
	failures []string // "subtest path: message"
}

func (l *recordLog) add(failure bool, line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, line)
	if failure {
		l.failures = append(l.failures, line)
	}
}

func (l *recordLog) snapshot() (lines, failures []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...), append([]string(nil), l.failures...)
}

// record runs f as a top-level test named name.
func record(name string, f func(tb)) *recorder {
	r := newRecorder(name, nil, &recordLog{})
	r.runBody(f)
	return r
}

func newRecorder(name string, parent *recorder, log *recordLog) *recorder {
	ctx, cancel := context.WithCancel(context.Background())
	return &recorder{name: name, parent: parent, ctx: ctx, cancel: cancel, log: log}
}

// runBody runs f on a goroutine of its own, as testing does, so FailNow can
// end it, then runs the cleanups.
func (r *recorder) runBody(f func(tb)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer r.finish()
		f(r)
	}()
	<-done
}

func (r *recorder) finish() {
	r.cancel()
	for {
		r.mu.Lock()
		n := len(r.cleanups)
		if n == 0 {
			r.mu.Unlock()
			return
		}
		c := r.cleanups[n-1]
		r.cleanups = r.cleanups[:n-1]
		r.mu.Unlock()
		c()
	}
}

func (r *recorder) Helper()                  {}
func (r *recorder) Name() string             { return r.name }
func (r *recorder) Context() context.Context { return r.ctx }

func (r *recorder) Cleanup(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cleanups = append(r.cleanups, f)
}

func (r *recorder) Logf(format string, args ...any) {
	r.log.add(false, r.name+": "+fmt.Sprintf(format, args...))
}

func (r *recorder) Errorf(format string, args ...any) {
	r.fail()
	r.log.add(true, r.name+": "+fmt.Sprintf(format, args...))
}

func (r *recorder) fail() {
	for p := r; p != nil; p = p.parent {
		p.mu.Lock()
		p.failed = true
		p.mu.Unlock()
	}
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	r.FailNow()
}

func (r *recorder) FailNow() {
	r.fail()
	runtime.Goexit()
}

func (r *recorder) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

func (r *recorder) Skipf(format string, args ...any) {
	r.Logf("SKIP: "+format, args...)
	runtime.Goexit()
}

func (r *recorder) Run(name string, f func(tb)) bool {
	child := newRecorder(r.name+"/"+name, r, r.log)
	child.runBody(f)
	return !child.Failed()
}

// failedIn reports whether a failure in subtest path (relative to the
// top-level test) mentions text.
func (r *recorder) failedIn(path, text string) bool {
	_, failures := r.log.snapshot()
	for _, f := range failures {
		if strings.HasPrefix(f, r.name+"/"+path) && strings.Contains(f, text) {
			return true
		}
	}
	return false
}
