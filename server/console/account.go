package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// accountData is what the account page shows: credit and ledger, the
// webhook settings, and the outcome of the last action.
type accountData struct {
	Balance map[string]any
	Ledger  []map[string]any
	// Webhook is nil when the account has none.
	Webhook map[string]any
	// Secret is a webhook secret just generated, shown once.
	Secret string
	// Test is the answer of the test event just sent.
	Test map[string]any
	// Form keeps what was typed, for a form sent back with an error.
	Form map[string]string
	// Credited is set after credit was added.
	Credited bool
	// AccountID is the signed-in key's account.
	AccountID string
}

func (c *Console) accountPage(w http.ResponseWriter, r *http.Request, se *session) {
	c.renderAccount(w, r, se, http.StatusOK, page{}, accountData{})
}

// renderAccount reads the account's credit, ledger and webhook and shows
// them with d's outcome; status and f carry a form's error.
func (c *Console) renderAccount(w http.ResponseWriter, r *http.Request, se *session, status int, f page, d accountData) {
	p := c.pageFor(se, "Account", "account")
	p.Error, p.Fields = f.Error, f.Fields
	if d.Form == nil {
		d.Form = map[string]string{}
	}
	d.AccountID = se.account
	p.Data = &d
	a := c.call(r.Context(), se.key, http.MethodGet, "/api/v1/balance", nil)
	if c.apiFailed(w, "account", p, a) {
		return
	}
	_ = a.Decode(&d.Balance)
	var ledger struct {
		Entries []map[string]any `json:"entries"`
	}
	if a := c.call(r.Context(), se.key, http.MethodGet, "/api/v1/ledger?limit=20", nil); a.OK() {
		_ = a.Decode(&ledger)
	}
	d.Ledger = ledger.Entries
	if a := c.call(r.Context(), se.key, http.MethodGet, "/api/v1/webhook", nil); a.OK() {
		_ = a.Decode(&d.Webhook)
	}
	c.render(w, status, "account", p)
}

// setWebhook sets the account's webhook URL (PUT /api/v1/webhook), the
// secret shown once when one is generated.
func (c *Console) setWebhook(w http.ResponseWriter, r *http.Request, se *session) {
	u := strings.TrimSpace(r.PostFormValue("url"))
	body := map[string]any{"url": u, "rotate_secret": r.PostFormValue("rotate") == "1"}
	a := c.call(r.Context(), se.key, http.MethodPut, "/api/v1/webhook", body)
	d := accountData{Form: map[string]string{"url": u}}
	if !a.OK() {
		c.renderAccount(w, r, se, a.Code, fieldError("url", a.Error()), d)
		return
	}
	var res struct {
		Secret string `json:"secret"`
	}
	_ = a.Decode(&res)
	d.Secret = res.Secret
	c.renderAccount(w, r, se, http.StatusOK, page{}, d)
}

// testWebhook sends the account's webhook a signed test event (POST
// /api/v1/webhook/test) and shows what its receiver answered.
func (c *Console) testWebhook(w http.ResponseWriter, r *http.Request, se *session) {
	a := c.call(r.Context(), se.key, http.MethodPost, "/api/v1/webhook/test", map[string]any{})
	if !a.OK() {
		c.renderAccount(w, r, se, a.Code, fieldError("test", a.Error()), accountData{})
		return
	}
	d := accountData{}
	_ = a.Decode(&d.Test)
	c.renderAccount(w, r, se, http.StatusOK, page{}, d)
}

// addCredit adds credit to the signed-in key's account (POST
// /api/v1/admin/accounts/{id}/credit: system admins only, as the API
// decides).
func (c *Console) addCredit(w http.ResponseWriter, r *http.Request, se *session) {
	form := map[string]string{"amount": strings.TrimSpace(r.PostFormValue("amount")), "reason": r.PostFormValue("reason")}
	d := accountData{Form: form}
	amount, err := strconv.ParseFloat(form["amount"], 64)
	if err != nil {
		c.renderAccount(w, r, se, http.StatusUnprocessableEntity, fieldError("amount", "amount must be a number, such as 25.50 (negative to take credit away)"), d)
		return
	}
	a := c.call(r.Context(), se.key, http.MethodPost, "/api/v1/admin/accounts/"+url.PathEscape(se.account)+"/credit",
		map[string]any{"amount": amount, "reason": form["reason"]})
	if !a.OK() {
		c.renderAccount(w, r, se, a.Code, fieldError(fieldNamed(a.Error(), "amount", "reason"), a.Error()), d)
		return
	}
	c.renderAccount(w, r, se, http.StatusOK, page{}, accountData{Credited: true})
}
