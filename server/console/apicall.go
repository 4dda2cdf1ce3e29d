package console

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// apiAnswer is what the JSON API answered a console call.
type apiAnswer struct {
	Code int
	Body []byte
}

// OK reports a 2xx answer.
func (a apiAnswer) OK() bool { return a.Code >= 200 && a.Code < 300 }

// Error is the API's {"error": …} message, or a generic one.
func (a apiAnswer) Error() string {
	var e struct {
		Error    string   `json:"error"`
		Problems []string `json:"problems"`
	}
	if json.Unmarshal(a.Body, &e) == nil && e.Error != "" {
		if len(e.Problems) > 0 {
			return e.Error + "\n" + joinLines(e.Problems)
		}
		return e.Error
	}
	return fmt.Sprintf("the API answered HTTP %d", a.Code)
}

// Decode reads the answer's JSON into v.
func (a apiAnswer) Decode(v any) error {
	if err := json.Unmarshal(a.Body, v); err != nil {
		return fmt.Errorf("read the API's answer: %w", err)
	}
	return nil
}

func joinLines(lines []string) string {
	var b bytes.Buffer
	for i, l := range lines {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(l)
	}
	return b.String()
}

// call sends one request to the JSON API in process, with key as the
// Bearer key: the same handlers, checks and limits as a request from
// outside.
func (c *Console) call(ctx context.Context, key, method, path string, body any) apiAnswer {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return apiAnswer{Code: http.StatusInternalServerError, Body: []byte(`{"error":"console: cannot encode the request"}`)}
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, path, rd)
	if err != nil {
		return apiAnswer{Code: http.StatusBadRequest, Body: []byte(`{"error":"console: bad request path"}`)}
	}
	req.RemoteAddr = "127.0.0.1:0"
	req.RequestURI = path
	req.Header.Set("Authorization", "Bearer "+key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := &recorder{header: http.Header{}, code: http.StatusOK}
	c.o.API.ServeHTTP(rec, req)
	return apiAnswer{Code: rec.code, Body: rec.body.Bytes()}
}

// recorder keeps an in-process API answer.
type recorder struct {
	header      http.Header
	code        int
	wroteHeader bool
	body        bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if !r.wroteHeader {
		r.code, r.wroteHeader = code, true
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}
