package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/numbers"
)

// clusterNumbers is how many numbers the two servers hand out.
const clusterNumbers = 300

// numbersNodeConfig writes the config of a server of the pair: one
// PostgreSQL database, a sandbox provider listing the numbers.
func numbersNodeConfig(t *testing.T, c *pgCluster, name string) string {
	t.Helper()
	u, err := url.Parse(c.dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("application_name", name)
	u.RawQuery = q.Encode()
	list := make([]string, clusterNumbers)
	for i := range list {
		list[i] = fmt.Sprintf("%q", fmt.Sprintf("+1202555%04d", i))
	}
	cfg := fmt.Sprintf(`
server {
  listen = "127.0.0.1:0"
}
database {
  driver = "postgres"
  dsn    = %q
}
provider "sandbox" {
  plugin  = "sandbox"
  numbers = [%s]
}
route "default" {
  default    = true
  candidates = ["sandbox"]
}
`, u.String(), strings.Join(list, ", "))
	path := filepath.Join(c.dir, name+".hcl")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestTwoServersNeverHandOutANumberTwice runs two `smsrouter serve`
// processes on one PostgreSQL database and has 50 clients, half on each,
// ask for numbers through the seed API until none is left: every number is
// handed out exactly once.
func TestTwoServersNeverHandOutANumberTwice(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	c := newPGCluster(t, false)
	var nodes []*hostProc
	for _, name := range []string{"numbers-a", "numbers-b"} {
		h, out := spawnHost(t, numbersNodeConfig(t, c, name))
		if c.key == "" {
			c.key = out.await(t, keyLine, 60*time.Second)
		}
		h.key = c.key
		h.addr = h.stderr.await(t, servingLine, 60*time.Second)
		nodes = append(nodes, h)
	}
	var (
		mu   sync.Mutex
		seen = map[string][]string{}
		wg   sync.WaitGroup
	)
	client := &http.Client{Timeout: 30 * time.Second}
	perNode := make([]int, len(nodes))
	start := time.Now()
	for w := range 50 {
		h := nodes[w%2]
		wg.Go(func() {
			for {
				number, status, err := getNumber(client, h)
				switch {
				case err != nil:
					t.Errorf("client %d: %v", w, err)
					return
				case status == http.StatusNotFound:
					return
				}
				mu.Lock()
				seen[number] = append(seen[number], fmt.Sprintf("client %d on %s", w, h.addr))
				perNode[w%2]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	t.Logf("%d numbers handed out in %s, %v per server", len(seen), time.Since(start).Round(time.Millisecond), perNode)
	if perNode[0] == 0 || perNode[1] == 0 {
		t.Errorf("numbers handed out per server %v: both servers should have assigned some", perNode)
	}
	if len(seen) != clusterNumbers {
		t.Errorf("%d distinct numbers handed out, want all %d", len(seen), clusterNumbers)
	}
	for number, by := range seen {
		if len(by) != 1 {
			t.Errorf("number %s handed out %d times: %v", number, len(by), by)
		}
	}
}

// getNumber asks h for a US number the seed's way; the status is 200 with
// the number, or 404 when none is left.
func getNumber(client *http.Client, h *hostProc) (string, int, error) {
	resp, err := client.Get(fmt.Sprintf("http://%s/api/get-number/%s?country_id=%d", h.addr, h.key, numbers.CountryID("US")))
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var body struct {
		Status string
		Data   struct {
			PhoneNumber string `json:"phone_number"`
		}
		Message string
	}
	if err := json.Unmarshal(b, &body); err != nil {
		return "", resp.StatusCode, fmt.Errorf("get-number: HTTP %d %q: %v", resp.StatusCode, b, err)
	}
	switch {
	case resp.StatusCode == http.StatusOK && body.Data.PhoneNumber != "":
		return body.Data.PhoneNumber, resp.StatusCode, nil
	case resp.StatusCode == http.StatusNotFound && body.Message == "No number received":
		return "", resp.StatusCode, nil
	}
	return "", resp.StatusCode, fmt.Errorf("get-number: HTTP %d %s", resp.StatusCode, b)
}
