package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeServer hands out size numbers the seed's way; with twice, the third
// number is handed out again right after.
func fakeServer(t *testing.T, size int, twice bool) *httptest.Server {
	var mu sync.Mutex
	next := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/api/init"):
			fmt.Fprint(w, `{"status":"success","data":{"countries":[{"id":540,"name":"United States","phone_code":"1","code":"US"}],"operators":[]}}`)
		case strings.HasPrefix(r.URL.Path, "/api/get-number") && r.URL.Query().Get("country_id") == "540":
			mu.Lock()
			i := next
			next++
			mu.Unlock()
			if twice && i == 3 {
				i = 2
			}
			if i >= size {
				w.WriteHeader(http.StatusNotFound)
				fmt.Fprint(w, `{"status":"error","message":"No number received"}`)
				return
			}
			fmt.Fprintf(w, `{"status":"success","data":{"phone_number":%q}}`, seedNumber(i))
		default:
			http.Error(w, "unexpected "+r.URL.String(), http.StatusBadRequest)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestAssignsUntilTheInventoryRunsOut(t *testing.T) {
	for _, bearer := range []bool{false, true} {
		srv := fakeServer(t, 120, false)
		r, err := run(context.Background(), options{urls: []string{srv.URL, srv.URL}, key: "api_live_x", country: "us", c: 8, bearer: bearer})
		if err != nil {
			t.Fatal(err)
		}
		if r.assigned != 120 || !r.empty || len(r.twice) != 0 || r.failed != 0 {
			t.Errorf("bearer %t: %d assigned, empty %t, twice %v, failed %d (%v)", bearer, r.assigned, r.empty, r.twice, r.failed, r.firstErr)
		}
	}
}

func TestFindsANumberHandedOutTwice(t *testing.T) {
	srv := fakeServer(t, 50, true)
	r, err := run(context.Background(), options{urls: []string{srv.URL}, key: "k", country: "US", c: 4})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.twice) != 1 || r.twice[0] != seedNumber(2) {
		t.Errorf("handed out twice: %v, want [%s]", r.twice, seedNumber(2))
	}
}

func TestStopsAtN(t *testing.T) {
	srv := fakeServer(t, 1000, false)
	r, err := run(context.Background(), options{urls: []string{srv.URL}, key: "k", country: "US", c: 5, n: 100})
	if err != nil {
		t.Fatal(err)
	}
	// Clients already waiting for an answer when the hundredth came add
	// one each.
	if r.assigned < 100 || r.assigned > 104 || r.empty {
		t.Errorf("%d assigned (empty %t), want 100 to 104", r.assigned, r.empty)
	}
}

func TestSeedNumbers(t *testing.T) {
	for i, want := range map[int]string{0: "+12015550000", 9999: "+12015559999", 10000: "+12025550000", 25001: "+12035555001"} {
		if got := seedNumber(i); got != want {
			t.Errorf("seedNumber(%d) = %s, want %s", i, got, want)
		}
	}
}
