package console

import (
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// page is what every page template gets.
type page struct {
	Title  string
	Nav    string
	CSRF   string
	System bool
	// Error is shown at the top of the page's form: the API's own reason.
	Error string
	// Fields are errors shown next to the form field they name.
	Fields map[string]string
	Data   any
}

// Field is the error to show next to the form field name, or "".
func (p page) Field(name string) string { return p.Fields[name] }

// fieldError is a page whose error msg is shown next to field, or at the
// top of the page when field is "".
func fieldError(field, msg string) page {
	if field == "" {
		return page{Error: msg}
	}
	return page{Fields: map[string]string{field: msg}}
}

// fieldNamed returns the first of fields that the API's reason msg starts
// with (its reasons name the field first: "url must …", "amount is
// required …"), or "".
func fieldNamed(msg string, fields ...string) string {
	for _, f := range fields {
		if strings.HasPrefix(msg, f+" ") || strings.HasPrefix(msg, f+":") {
			return f
		}
	}
	return ""
}

// sendField is the send form's field an API reason is about, or "".
func sendField(msg string) string {
	low := strings.ToLower(msg)
	switch {
	case strings.Contains(low, "phone number") || strings.Contains(low, "recipient") || strings.HasPrefix(low, "to "):
		return "to"
	case strings.Contains(low, "sender") || strings.HasPrefix(low, "from "):
		return "from"
	case strings.Contains(low, "message") || strings.Contains(low, "segments") || strings.Contains(low, "text"):
		return "message"
	}
	return ""
}

var funcs = template.FuncMap{
	"json": func(v any) string {
		b, _ := json.MarshalIndent(v, "", "  ")
		return string(b)
	},
	"join": strings.Join,
	"cell": cell,
	"list": func(s ...string) []string { return s },
}

// parsePages parses each page with the layout; a broken template is a
// build mistake, so it panics at start.
func parsePages() map[string]*template.Template {
	names := []string{"login", "overview", "messages", "message", "send", "routing", "keys", "inbound", "providers", "account"}
	out := make(map[string]*template.Template, len(names))
	for _, n := range names {
		out[n] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+n+".html"))
	}
	return out
}

func (c *Console) render(w http.ResponseWriter, status int, name string, p page) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := c.pages[name].Execute(w, p); err != nil {
		c.o.Logger.Error("render console page", "page", name, "error", err)
	}
}

func (c *Console) pageFor(se *session, title, nav string) page {
	return page{Title: title, Nav: nav, CSRF: se.csrf, System: se.system}
}

// apiFailed renders the page with the API's reason when an answer is not
// a success, keeping the API's status (401, 403, 404, 422, …).
func (c *Console) apiFailed(w http.ResponseWriter, name string, p page, a apiAnswer) bool {
	if a.OK() {
		return false
	}
	p.Error = a.Error()
	c.render(w, a.Code, name, p)
	return true
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	p := page{Title: "Sign in"}
	if r.URL.Query().Get("expired") == "1" {
		p.Error = "Your session ended; sign in again."
	}
	c.render(w, http.StatusOK, "login", p)
}

// login signs in with an admin API key: the key must be able to list API
// keys (account_admin or system_admin), which the API decides.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	key := strings.TrimSpace(r.PostFormValue("key"))
	p := page{Title: "Sign in"}
	if key == "" {
		p.Error = "Enter an admin API key (api_live_…)."
		c.render(w, http.StatusUnprocessableEntity, "login", p)
		return
	}
	probe := c.call(r.Context(), key, http.MethodGet, "/api/v1/admin/keys", nil)
	if !probe.OK() {
		p.Error = "This key cannot sign in: " + probe.Error()
		c.render(w, probe.Code, "login", p)
		return
	}
	system := c.call(r.Context(), key, http.MethodGet, "/api/v1/admin/providers", nil).OK()
	se := c.sessions.start(key, ownAccount(probe, key), system)
	c.setCookie(w, r, se.id, 0)
	c.o.Logger.Info("console sign-in", "system_admin", system)
	http.Redirect(w, r, Prefix+"/", http.StatusSeeOther)
}

// ownAccount finds the signed-in key's account in the key list the login
// probe read: the key whose prefix starts the raw key.
func ownAccount(keys apiAnswer, raw string) string {
	var list struct {
		Keys []struct {
			AccountID string     `json:"account_id"`
			Prefix    string     `json:"prefix"`
			RevokedAt *time.Time `json:"revoked_at"`
		} `json:"keys"`
	}
	if keys.Decode(&list) != nil {
		return ""
	}
	for _, k := range list.Keys {
		if k.Prefix != "" && k.RevokedAt == nil && strings.HasPrefix(raw, k.Prefix) {
			return k.AccountID
		}
	}
	return ""
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, se *session) {
	c.sessions.end(se.id)
	c.setCookie(w, r, "", -1)
	http.Redirect(w, r, Prefix+"/login", http.StatusSeeOther)
}

// overviewData is the overview page: the charts of the last hour, the
// queue, the webhook backlog, provider health and the newest messages.
type overviewData struct {
	Providers []map[string]any
	Balance   map[string]any
	Recent    []map[string]any
	Stats     overviewStats
	Charts    []chart
}

// overviewStats is the part of GET /api/v1/admin/overview the page reads.
type overviewStats struct {
	Minutes []minuteCounts `json:"per_minute"`
	Queue   struct {
		Queued  int `json:"queued"`
		Pending int `json:"pending"`
	} `json:"queue"`
	Webhooks struct {
		Pending int        `json:"pending"`
		Oldest  *time.Time `json:"oldest_created_at"`
	} `json:"webhook_backlog"`
}

func (c *Console) overview(w http.ResponseWriter, r *http.Request, se *session) {
	p := c.pageFor(se, "Overview", "overview")
	var data overviewData
	p.Data = &data
	a := c.call(r.Context(), se.key, http.MethodGet, "/api/v1/admin/overview?minutes=60", nil)
	if c.apiFailed(w, "overview", p, a) {
		return
	}
	_ = a.Decode(&data.Stats)
	data.Charts = []chart{
		newChart("chart-status", "Messages per minute by status (last hour, by when they were accepted)", data.Stats.Minutes,
			func(m minuteCounts) map[string]int { return m.ByStatus }, statusColors, statusOrder),
		newChart("chart-provider", "Messages per minute by provider (last hour)", data.Stats.Minutes,
			func(m minuteCounts) map[string]int { return m.ByProvider }, nil, nil),
	}
	if se.system {
		var prov struct {
			Providers []map[string]any `json:"providers"`
		}
		if a := c.call(r.Context(), se.key, http.MethodGet, "/api/v1/admin/providers", nil); a.OK() {
			_ = a.Decode(&prov)
		}
		data.Providers = prov.Providers
	}
	if a := c.call(r.Context(), se.key, http.MethodGet, "/api/v1/balance", nil); a.OK() {
		_ = a.Decode(&data.Balance)
	}
	var list struct {
		Messages []map[string]any `json:"messages"`
	}
	if a := c.call(r.Context(), se.key, http.MethodGet, "/api/v1/sms/messages?limit=10", nil); a.OK() {
		_ = a.Decode(&list)
	}
	data.Recent = list.Messages
	c.render(w, http.StatusOK, "overview", p)
}

func (c *Console) messages(w http.ResponseWriter, r *http.Request, se *session) {
	p := c.pageFor(se, "Messages", "messages")
	q := url.Values{"limit": {"50"}}
	for _, k := range []string{"status", "cursor", "since"} {
		if v := r.URL.Query().Get(k); v != "" {
			q.Set(k, v)
		}
	}
	var list struct {
		Messages   []map[string]any `json:"messages"`
		NextCursor string           `json:"next_cursor"`
	}
	a := c.call(r.Context(), se.key, http.MethodGet, "/api/v1/sms/messages?"+q.Encode(), nil)
	p.Data = struct {
		Status string
		List   any
	}{r.URL.Query().Get("status"), &list}
	if c.apiFailed(w, "messages", p, a) {
		return
	}
	_ = a.Decode(&list)
	c.render(w, http.StatusOK, "messages", p)
}

func (c *Console) messageDetail(w http.ResponseWriter, r *http.Request, se *session) {
	p := c.pageFor(se, "Message", "messages")
	var d map[string]any
	a := c.call(r.Context(), se.key, http.MethodGet, "/api/v1/sms/"+url.PathEscape(r.PathValue("id")), nil)
	if c.apiFailed(w, "message", p, a) {
		return
	}
	_ = a.Decode(&d)
	p.Data = d
	c.render(w, http.StatusOK, "message", p)
}

// messageStatus is the live status the message page polls: the API's
// status answer as it is.
func (c *Console) messageStatus(w http.ResponseWriter, r *http.Request, se *session) {
	a := c.call(r.Context(), se.key, http.MethodGet, "/api/v1/sms/status/"+url.PathEscape(r.PathValue("id")), nil)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.Code)
	_, _ = w.Write(a.Body)
}

func (c *Console) sendPage(w http.ResponseWriter, r *http.Request, se *session) {
	p := c.pageFor(se, "API tester", "send")
	p.Data = map[string]string{}
	c.render(w, http.StatusOK, "send", p)
}

// send is the API tester: it sends as POST /api/v1/sms/send would and
// opens the new message, whose page follows its status live.
func (c *Console) send(w http.ResponseWriter, r *http.Request, se *session) {
	p := c.pageFor(se, "API tester", "send")
	form := map[string]string{"to": r.PostFormValue("to"), "message": r.PostFormValue("message"), "from": r.PostFormValue("from")}
	p.Data = form
	body := map[string]any{"to": form["to"], "message": form["message"]}
	if form["from"] != "" {
		body["from"] = form["from"]
	}
	a := c.call(r.Context(), se.key, http.MethodPost, "/api/v1/sms/send", body)
	if !a.OK() {
		f := fieldError(sendField(a.Error()), a.Error())
		p.Error, p.Fields = f.Error, f.Fields
		c.render(w, a.Code, "send", p)
		return
	}
	var res struct {
		MessageID string `json:"message_id"`
	}
	_ = a.Decode(&res)
	http.Redirect(w, r, Prefix+"/messages/"+url.PathEscape(res.MessageID), http.StatusSeeOther)
}

func (c *Console) routingPage(w http.ResponseWriter, r *http.Request, se *session) {
	p := c.pageFor(se, "Routing", "routing")
	p.Data = map[string]any{"Form": map[string]string{}}
	c.render(w, http.StatusOK, "routing", p)
}

func (c *Console) explain(w http.ResponseWriter, r *http.Request, se *session) {
	p := c.pageFor(se, "Routing", "routing")
	form := map[string]string{"to": r.PostFormValue("to"), "message": r.PostFormValue("message"), "kind": r.PostFormValue("kind")}
	data := map[string]any{"Form": form}
	p.Data = data
	body := map[string]any{"to": form["to"], "message": form["message"]}
	if form["kind"] != "" {
		body["kind"] = form["kind"]
	}
	a := c.call(r.Context(), se.key, http.MethodPost, "/api/v1/admin/route/explain", body)
	if !a.OK() {
		f := fieldError(fieldNamed(a.Error(), "to", "message", "kind"), a.Error())
		p.Error, p.Fields = f.Error, f.Fields
		c.render(w, a.Code, "routing", p)
		return
	}
	var ex any
	_ = a.Decode(&ex)
	data["Explanation"] = ex
	c.render(w, http.StatusOK, "routing", p)
}

func (c *Console) reload(w http.ResponseWriter, r *http.Request, se *session) {
	p := c.pageFor(se, "Routing", "routing")
	p.Data = map[string]any{"Form": map[string]string{}}
	a := c.call(r.Context(), se.key, http.MethodPost, "/api/v1/admin/reload", map[string]any{})
	if c.apiFailed(w, "routing", p, a) {
		return
	}
	p.Data = map[string]any{"Form": map[string]string{}, "Reloaded": true}
	c.render(w, http.StatusOK, "routing", p)
}

func (c *Console) keysPage(w http.ResponseWriter, r *http.Request, se *session) {
	c.renderKeys(w, r, se, http.StatusOK, "", "")
}

// renderKeys shows the keys, with a new key's secret once or an error.
func (c *Console) renderKeys(w http.ResponseWriter, r *http.Request, se *session, status int, created, errMsg string) {
	p := c.pageFor(se, "API keys", "keys")
	var keys struct {
		Keys []map[string]any `json:"keys"`
	}
	a := c.call(r.Context(), se.key, http.MethodGet, "/api/v1/admin/keys", nil)
	p.Data = map[string]any{"Keys": &keys.Keys, "Created": created}
	if c.apiFailed(w, "keys", p, a) {
		return
	}
	_ = a.Decode(&keys)
	if errMsg != "" {
		f := fieldError(fieldNamed(errMsg, "name", "permissions"), errMsg)
		p.Error, p.Fields = f.Error, f.Fields
	}
	c.render(w, status, "keys", p)
}

func (c *Console) createKey(w http.ResponseWriter, r *http.Request, se *session) {
	if err := r.ParseForm(); err != nil {
		c.renderKeys(w, r, se, http.StatusBadRequest, "", "the form could not be read: "+err.Error())
		return
	}
	body := map[string]any{"name": r.PostFormValue("name"), "permissions": r.PostForm["permissions"]}
	a := c.call(r.Context(), se.key, http.MethodPost, "/api/v1/admin/keys", body)
	if !a.OK() {
		c.renderKeys(w, r, se, a.Code, "", a.Error())
		return
	}
	var res struct {
		Key string `json:"key"`
	}
	_ = a.Decode(&res)
	c.renderKeys(w, r, se, http.StatusOK, res.Key, "")
}

func (c *Console) revokeKey(w http.ResponseWriter, r *http.Request, se *session) {
	a := c.call(r.Context(), se.key, http.MethodDelete, "/api/v1/admin/keys/"+url.PathEscape(r.PathValue("id")), nil)
	if !a.OK() {
		c.renderKeys(w, r, se, a.Code, "", a.Error())
		return
	}
	http.Redirect(w, r, Prefix+"/keys", http.StatusSeeOther)
}

func (c *Console) inbound(w http.ResponseWriter, r *http.Request, se *session) {
	p := c.pageFor(se, "Inbound", "inbound")
	var list struct {
		Messages []map[string]any `json:"messages"`
	}
	a := c.call(r.Context(), se.key, http.MethodGet, "/api/v1/sms/inbound?limit=50", nil)
	p.Data = &list
	if c.apiFailed(w, "inbound", p, a) {
		return
	}
	_ = a.Decode(&list)
	c.render(w, http.StatusOK, "inbound", p)
}
