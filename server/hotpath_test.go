package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/hashicorp/go-hclog"

	"github.com/smsrouter/smsrouter/core/message"
)

// requestLogRouter serves POST /api/v1/sms/send (202) behind logRequests,
// logging to out at level.
func requestLogRouter(level hclog.Level, out io.Writer) http.Handler {
	gin.SetMode(gin.ReleaseMode)
	a := &api{log: hclog.New(&hclog.LoggerOptions{Level: level, Output: out})}
	r := gin.New()
	r.Use(a.logRequests)
	r.POST("/api/v1/sms/send", func(c *gin.Context) { c.Status(http.StatusAccepted) })
	return r
}

// TestLogRequests logs each request at debug level, and nothing above it.
func TestLogRequests(t *testing.T) {
	for _, tc := range []struct {
		level hclog.Level
		want  bool
	}{{hclog.Debug, true}, {hclog.Trace, true}, {hclog.Info, false}} {
		var out bytes.Buffer
		h := requestLogRouter(tc.level, &out)
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/api/v1/sms/send", nil))
		got := out.String()
		logged := strings.Contains(got, "request: method=POST path=/api/v1/sms/send status=202 took=")
		if logged != tc.want {
			t.Errorf("at %s: logged %q, want the request line %v", tc.level, got, tc.want)
		}
		if !tc.want && got != "" {
			t.Errorf("at %s: logged %q", tc.level, got)
		}
	}
}

// BenchmarkLogRequests is the request log's cost per request at the
// default level, where it writes nothing.
func BenchmarkLogRequests(b *testing.B) {
	h := requestLogRouter(hclog.Info, io.Discard)
	req := httptest.NewRequest(http.MethodPost, "/api/v1/sms/send", nil)
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
}

// TestSendAnswerBytes holds a send's answer to the bytes of the map it
// was written from before: keys sorted, HTML characters escaped.
func TestSendAnswerBytes(t *testing.T) {
	for _, tc := range []struct{ id, status string }{{"msg_01JX", "queued"}, {"msg_<&>\"é", "pending"}, {"", ""}} {
		got, err := json.Marshal(sendAnswer(tc.id, message.Status(tc.status)))
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(gin.H{"success": true, "message_id": tc.id, "status": message.Status(tc.status)})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("answer %s, was %s", got, want)
		}
	}
}

// BenchmarkSendAnswer is writing a send's answer.
func BenchmarkSendAnswer(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(sendAnswer("msg_01JXABCDEFGHJKMNPQRSTVWXYZ", message.Queued)); err != nil {
			b.Fatal(err)
		}
	}
}
