package benchpeer

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// readyLine is what the child prints once its peers serve.
const readyLine = "benchpeer: peers ready"

// Start runs the test binary's test named test (the child, which calls
// Ready) with env added to its environment, and returns once the child's
// peers serve. The child is told to stop, by closing its stdin, when tb
// ends.
func Start(tb testing.TB, test string, env ...string) {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.v")
	cmd.Env = append(os.Environ(), env...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if strings.Contains(sc.Text(), readyLine) {
			go func() { // keep reading so the child never blocks on its output; ends with the child
				for sc.Scan() {
				}
			}()
			return
		}
	}
	tb.Fatalf("the child process %s ended before its peers were ready: %v", test, sc.Err())
}

// Ready tells the parent that the child's peers serve, then waits until
// the parent is done with them (it closes the child's stdin).
func Ready() {
	fmt.Println(readyLine)
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
}
