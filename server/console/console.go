package console

import (
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"time"

	"github.com/hashicorp/go-hclog"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Prefix is where the console is served.
const Prefix = "/console"

const cookieName = "smsrouter_console"

// Options configure the console.
type Options struct {
	// API is the JSON API the console calls for everything it shows and
	// does, with the signed-in key.
	API http.Handler
	// SecureCookies marks the session cookie Secure even on plain HTTP
	// requests: set it behind a TLS-terminating proxy. Requests that came
	// over TLS get a Secure cookie anyway.
	SecureCookies bool
	// SessionTTL is how long a session lasts without use; default 30m.
	SessionTTL time.Duration
	// MaxSessions bounds the sessions kept; default 1000.
	MaxSessions int
	Logger      hclog.Logger
	Now         func() time.Time
}

// Console is the web console's handler, for the paths under Prefix.
type Console struct {
	o        Options
	sessions *sessions
	pages    map[string]*template.Template
	mux      *http.ServeMux
}

// New returns the console.
func New(o Options) *Console {
	if o.SessionTTL <= 0 {
		o.SessionTTL = 30 * time.Minute
	}
	if o.MaxSessions <= 0 {
		o.MaxSessions = 1000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	c := &Console{o: o, sessions: newSessions(o.SessionTTL, o.MaxSessions, o.Now), pages: parsePages()}
	c.mux = c.routes()
	return c
}

func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// Pages come from this binary alone: no other origin's script, style,
	// frame or form target.
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	c.mux.ServeHTTP(w, r)
}

func (c *Console) routes() *http.ServeMux {
	m := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	m.Handle("GET "+Prefix+"/static/", http.StripPrefix(Prefix+"/static/", http.FileServerFS(static)))
	m.HandleFunc("GET "+Prefix+"/login", c.loginPage)
	m.HandleFunc("POST "+Prefix+"/login", c.login)
	m.HandleFunc("POST "+Prefix+"/logout", c.signedIn(c.logout))
	m.HandleFunc("GET "+Prefix+"/{$}", c.signedIn(c.overview))
	m.HandleFunc("GET "+Prefix, func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, Prefix+"/", http.StatusSeeOther) })
	m.HandleFunc("GET "+Prefix+"/messages", c.signedIn(c.messages))
	m.HandleFunc("GET "+Prefix+"/messages/{id}", c.signedIn(c.messageDetail))
	m.HandleFunc("GET "+Prefix+"/messages/{id}/status", c.signedIn(c.messageStatus))
	m.HandleFunc("GET "+Prefix+"/send", c.signedIn(c.sendPage))
	m.HandleFunc("POST "+Prefix+"/send", c.signedIn(c.send))
	m.HandleFunc("GET "+Prefix+"/routing", c.signedIn(c.routingPage))
	m.HandleFunc("POST "+Prefix+"/routing/explain", c.signedIn(c.explain))
	m.HandleFunc("POST "+Prefix+"/routing/reload", c.signedIn(c.reload))
	m.HandleFunc("GET "+Prefix+"/keys", c.signedIn(c.keysPage))
	m.HandleFunc("POST "+Prefix+"/keys", c.signedIn(c.createKey))
	m.HandleFunc("POST "+Prefix+"/keys/{id}/revoke", c.signedIn(c.revokeKey))
	m.HandleFunc("GET "+Prefix+"/inbound", c.signedIn(c.inbound))
	m.HandleFunc("GET "+Prefix+"/providers", c.signedIn(c.providers))
	m.HandleFunc("GET "+Prefix+"/account", c.signedIn(c.accountPage))
	m.HandleFunc("POST "+Prefix+"/account/webhook", c.signedIn(c.setWebhook))
	m.HandleFunc("POST "+Prefix+"/account/webhook/test", c.signedIn(c.testWebhook))
	m.HandleFunc("POST "+Prefix+"/account/credit", c.signedIn(c.addCredit))
	m.HandleFunc(Prefix+"/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no such console page: "+r.URL.Path, http.StatusNotFound)
	})
	return m
}

// signedIn runs h for a live session, checking the CSRF token of every
// POST; without a session it sends the browser to the login page.
func (c *Console) signedIn(h func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ck, err := r.Cookie(cookieName)
		var se *session
		ok := false
		if err == nil {
			se, ok = c.sessions.get(ck.Value)
		}
		if !ok {
			http.Redirect(w, r, Prefix+"/login?expired="+boolParam(err == nil), http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost && !se.validCSRF(r.PostFormValue("csrf")) {
			http.Error(w, "the form is stale or did not come from this console (CSRF token mismatch); reload the page and try again", http.StatusForbidden)
			return
		}
		h(w, r, se)
	}
}

func boolParam(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func (c *Console) setCookie(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: value, Path: Prefix, MaxAge: maxAge, HttpOnly: true,
		Secure: c.o.SecureCookies || r.TLS != nil, SameSite: http.SameSiteStrictMode})
}
