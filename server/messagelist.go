package server

import (
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/smsrouter/smsrouter/core/message"
)

// maxExportRows bounds one CSV export; X-Next-Cursor continues it.
const maxExportRows = 100_000

// maxFilterLen is the longest provider or route name the messages table
// keeps.
const maxFilterLen = 64

// e164 is a number as messages keep their recipients.
var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// listFilter reads the list and export query; false means it answered
// 422 saying which parameter is wrong.
func listFilter(c *gin.Context) (message.Filter, bool) {
	f := message.Filter{Status: message.Status(c.Query("status")), Provider: c.Query("provider"), Route: c.Query("route"),
		Recipient: c.Query("to"), Kind: message.Kind(c.Query("kind")), Cursor: c.Query("cursor"), Limit: defaultPageSize}
	if err := checkFilter(c, &f); err != nil {
		fail(c, http.StatusUnprocessableEntity, err.Error())
		return f, false
	}
	return f, true
}

func checkFilter(c *gin.Context, f *message.Filter) error {
	if f.Status != "" && !f.Status.Valid() {
		return fmt.Errorf("status %q is not a message status; use one of %s", f.Status, names(message.Statuses()))
	}
	if f.Kind != "" && !f.Kind.Valid() {
		return fmt.Errorf("kind %q is not a message kind; use one of %s", f.Kind, names(message.Kinds()))
	}
	if f.Recipient != "" && !e164.MatchString(f.Recipient) {
		return fmt.Errorf("to %q is not a number in international format: give + and the country code, e.g. +959123456789 (in a URL, + is %%2B)", f.Recipient)
	}
	for _, p := range []struct{ name, value string }{{"provider", f.Provider}, {"route", f.Route}} {
		if l := utf8.RuneCountInString(p.value); l > maxFilterLen {
			return fmt.Errorf("%s is %d characters long; no %s name is longer than %d", p.name, l, p.name, maxFilterLen)
		}
	}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageSize {
			return fmt.Errorf("limit must be a whole number from 1 to %d", maxPageSize)
		}
		f.Limit = n
	}
	for _, t := range []struct {
		name string
		to   *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := c.Query(t.name); v != "" {
			at, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return fmt.Errorf("%s must be an RFC 3339 time such as 2025-10-22T10:30:00Z", t.name)
			}
			*t.to = at
		}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		return errors.New("until must be later than since: since keeps messages created at or after it, until those created before it")
	}
	return nil
}

func names[T ~string](list []T) string {
	out := make([]string, len(list))
	for i, v := range list {
		out[i] = string(v)
	}
	return strings.Join(out, ", ")
}

// listMessages answers a page of the account's messages, newest first;
// Accept: text/csv asks for the export instead.
func (a *api) listMessages(c *gin.Context) {
	if c.NegotiateFormat(gin.MIMEJSON, "text/csv") == "text/csv" {
		a.exportMessages(c)
		return
	}
	f, ok := listFilter(c)
	if !ok {
		return
	}
	msgs, next, err := a.o.Messages.ListMessages(c.Request.Context(), apiKey(c).AccountID, f)
	if err != nil {
		a.coreError(c, err)
		return
	}
	out := make([]gin.H, len(msgs))
	for i, m := range msgs {
		out[i] = a.summaryJSON(m)
	}
	var cursor *string
	if next != "" {
		cursor = &next
	}
	c.JSON(http.StatusOK, gin.H{"messages": out, "next_cursor": cursor})
}

// summaryJSON is a listed message: its status answer and the detail the
// message keeps in itself.
func (a *api) summaryJSON(m message.Summary) gin.H {
	out := messageJSON(m.View)
	out["kind"], out["encoding"], out["country"], out["route"] = m.Kind, m.Encoding, m.Country, m.Route
	out["provider"], out["provider_message_id"] = nullable(m.Provider), nullable(m.ProviderMessageID)
	out["attempts"], out["price"], out["currency"] = m.Attempts, m.Charged, a.currency()
	return out
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// csvColumns are the export's columns, in order.
var csvColumns = []string{"message_id", "created_at", "status", "to", "from", "kind", "encoding", "segments", "country",
	"route", "provider", "provider_message_id", "attempts", "price", "currency", "error_code", "error_message",
	"sent_at", "delivered_at", "failed_at"}

// exportMessages streams the account's messages the filters select as
// CSV, newest first, at most maxExportRows; X-Next-Cursor, when there are
// more, is the cursor of the next export.
func (a *api) exportMessages(c *gin.Context) {
	f, ok := listFilter(c)
	if !ok {
		return
	}
	w := csv.NewWriter(c.Writer)
	currency := a.currency()
	rows := 0
	start := func(next string) error {
		if next != "" {
			c.Header("X-Next-Cursor", next)
		}
		c.Header("Content-Type", "text/csv; charset=utf-8")
		c.Header("Content-Disposition", `attachment; filename="messages.csv"`)
		c.Status(http.StatusOK)
		return w.Write(csvColumns)
	}
	each := func(m message.Summary) error {
		rows++
		if err := w.Write(csvRow(m, currency)); err != nil {
			return err
		}
		if rows%exportFlushRows == 0 {
			w.Flush()
			c.Writer.Flush()
			return w.Error()
		}
		return nil
	}
	err := a.o.Messages.ExportMessages(c.Request.Context(), apiKey(c).AccountID, f, maxExportRows, start, each)
	if err != nil && !c.Writer.Written() {
		for _, h := range []string{"Content-Type", "Content-Disposition", "X-Next-Cursor"} {
			c.Writer.Header().Del(h)
		}
		a.coreError(c, err)
		return
	}
	w.Flush()
	if err != nil {
		// The status is sent: cutting the body short is all that is left
		// to say it is incomplete.
		a.log.Warn("message export cut short", "rows", rows, "error", err)
		panic(http.ErrAbortHandler)
	}
}

// exportFlushRows is how many rows an export writes between flushes.
const exportFlushRows = 500

func csvRow(m message.Summary, currency string) []string {
	return []string{m.ID, csvTime(&m.CreatedAt), string(m.Status), m.Recipient, cell(m.Sender), string(m.Kind), m.Encoding,
		strconv.Itoa(m.Segments), m.Country, cell(m.Route), cell(m.Provider), cell(m.ProviderMessageID), strconv.Itoa(m.Attempts),
		m.Charged.String(), currency, cell(m.ErrorCode), cell(m.ErrorMessage), csvTime(m.SentAt), csvTime(m.DeliveredAt), csvTime(m.FailedAt)}
}

// cell keeps text that others chose (senders, providers' ids and error
// messages) from being read as a formula when the file is opened in a
// spreadsheet: such text gets a leading apostrophe. Recipients are
// numbers this server checked, and keep their +.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func csvTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}
