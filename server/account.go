package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/nyaruka/phonenumbers"

	"github.com/smsrouter/smsrouter/core"
	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/provider"
	"github.com/smsrouter/smsrouter/routing"
)

// Plugins lets the API ask running providers about their accounts, in
// the host's words; *pluginhost.Host is one.
type Plugins interface {
	Names() []string
	// SenderIDs lists the senders the named provider's account may use.
	SenderIDs(ctx context.Context, name string) ([]provider.SenderID, error)
	// Outbox returns up to limit of the messages the named provider kept
	// (the sandbox's); its errors are worded for the admin who asked.
	Outbox(ctx context.Context, name string, limit int) ([]provider.OutboxMessage, error)
}

// Asking a provider for its senders is a call upstream; the answer changes
// rarely, so it is kept a while and bounded in time.
const (
	senderCacheFor = 5 * time.Minute
	senderTimeout  = 3 * time.Second
)

type senderCache struct {
	ids []provider.SenderID
	at  time.Time
}

func (a *api) currency() string {
	if a.o.API.Currency != "" {
		return a.o.API.Currency
	}
	if a.o.Table != nil {
		if t := a.o.Table(); t != nil {
			return t.Currency()
		}
	}
	return routing.DefaultCurrency
}

func (a *api) balance(c *gin.Context) {
	if a.o.Accounts == nil {
		fail(c, http.StatusServiceUnavailable, "balance is not available on this server")
		return
	}
	acc, err := a.o.Accounts.Account(c.Request.Context(), apiKey(c).AccountID)
	if err != nil {
		a.coreError(c, err)
		return
	}
	out := gin.H{"balance": acc.Balance, "currency": a.currency()}
	if acc.CreditLimit != nil {
		// Only accounts that can be refused for credit hear of a limit;
		// the others keep the guide's answer.
		out["credit_limit"] = *acc.CreditLimit
	}
	if apiKey(c).Has(account.PermSystemAdmin) && a.o.Providers != nil {
		providers := []gin.H{}
		for _, s := range a.o.Providers.Statuses() {
			if s.Balance == nil {
				continue
			}
			providers = append(providers, gin.H{"provider": s.Name, "balance": s.Balance.Amount, "currency": s.Balance.Currency, "updated_at": s.BalanceAt})
		}
		out["providers"] = providers
	}
	c.JSON(http.StatusOK, out)
}

type senderJSON struct {
	Value  string             `json:"value"`
	Kind   message.SenderKind `json:"kind"`
	Source string             `json:"source"`
}

func (a *api) senderIDs(c *gin.Context) {
	ctx := c.Request.Context()
	allowed, restricted, err := a.o.Messages.AllowedSenders(ctx, apiKey(c).AccountID)
	if err != nil {
		a.coreError(c, err)
		return
	}
	out := []senderJSON{}
	for _, v := range allowed {
		out = append(out, senderJSON{Value: v, Kind: message.SenderKindOf(v), Source: "config"})
	}
	if a.o.Plugins != nil {
		for _, name := range a.o.Plugins.Names() {
			for _, s := range a.providerSenders(ctx, name) {
				kind := s.Kind
				if kind == "" {
					kind = message.SenderKindOf(s.Value)
				}
				out = append(out, senderJSON{Value: s.Value, Kind: kind, Source: "provider:" + name})
			}
		}
	}
	c.JSON(http.StatusOK, gin.H{"sender_ids": out, "restricted": restricted})
}

// providerSenders returns a provider's senders, from the cache when fresh.
// A provider that cannot answer now is left out rather than failing the
// whole list: the last answer stands in while there is one (the plugin
// host logs why it could not answer).
func (a *api) providerSenders(ctx context.Context, name string) []provider.SenderID {
	a.sendersMu.Lock()
	cached, ok := a.senders[name]
	a.sendersMu.Unlock()
	if ok && time.Since(cached.at) < senderCacheFor {
		return cached.ids
	}
	ctx, cancel := context.WithTimeout(ctx, senderTimeout)
	defer cancel()
	ids, err := a.o.Plugins.SenderIDs(ctx, name)
	if err != nil {
		return cached.ids
	}
	a.sendersMu.Lock()
	a.senders[name] = senderCache{ids: ids, at: time.Now()}
	a.sendersMu.Unlock()
	return ids
}

type countryJSON struct {
	Country     string   `json:"country"`
	CallingCode string   `json:"calling_code,omitempty"`
	Operator    string   `json:"operator,omitempty"`
	Price       float64  `json:"price_per_segment"`
	Currency    string   `json:"currency"`
	Providers   []string `json:"providers"`
}

// catalogue groups the routing table's prices by destination, cheapest
// price first.
func (a *api) catalogue(operators bool) (list []countryJSON, other *countryJSON) {
	if a.o.Table == nil {
		return nil, nil
	}
	t := a.o.Table()
	cur := t.Currency()
	byKey := map[string]*countryJSON{}
	var keys []string
	for _, d := range t.Destinations() {
		if (d.Operator != "") != operators && d.Country != "" {
			continue
		}
		if d.Country == "" {
			if operators {
				continue
			}
			if other == nil {
				other = &countryJSON{Price: d.Price, Currency: cur}
			}
			other.quote(d)
			continue
		}
		k := d.Country + "/" + d.Operator
		e := byKey[k]
		if e == nil {
			e = &countryJSON{Country: d.Country, Operator: d.Operator, Price: d.Price, Currency: cur}
			if cc := phonenumbers.GetCountryCodeForRegion(d.Country); cc > 0 {
				e.CallingCode = fmt.Sprintf("+%d", cc)
			}
			byKey[k] = e
			keys = append(keys, k)
		}
		e.quote(d)
	}
	sort.Strings(keys)
	list = make([]countryJSON, 0, len(keys))
	for _, k := range keys {
		list = append(list, *byKey[k])
	}
	return list, other
}

// quote keeps the cheapest price of a destination and only the providers
// that charge it: a dearer provider does not charge the quoted price.
func (e *countryJSON) quote(d routing.Destination) {
	switch {
	case d.Price < e.Price || len(e.Providers) == 0:
		e.Price, e.Providers = d.Price, []string{d.Provider}
	case d.Price == e.Price:
		e.Providers = append(e.Providers, d.Provider)
	}
}

func (a *api) countries(c *gin.Context) {
	list, other := a.catalogue(false)
	out := gin.H{"countries": list}
	if other != nil {
		// A default price reaches every other country a route allows.
		out["other_countries"] = other
	}
	c.JSON(http.StatusOK, out)
}

func (a *api) operators(c *gin.Context) {
	list, _ := a.catalogue(true)
	c.JSON(http.StatusOK, gin.H{"operators": list})
}

// maxNameLen is the longest key or account name the database keeps.
const maxNameLen = 128

type createKeyBody struct {
	Name         string   `json:"name"`
	Permissions  []string `json:"permissions"`
	AccountID    string   `json:"account_id"`
	Account      string   `json:"account"`
	SMSPerMinute int      `json:"sms_per_minute"`
}

func (a *api) listKeys(c *gin.Context) {
	if a.o.Accounts == nil {
		fail(c, http.StatusServiceUnavailable, "key management is not available on this server")
		return
	}
	keys, err := a.o.Accounts.APIKeys(c.Request.Context(), apiKey(c), c.Query("account_id"))
	if errors.Is(err, account.ErrForbidden) {
		forbidden(c, err)
		return
	}
	if err != nil {
		a.coreError(c, err)
		return
	}
	out := make([]keyJSON, len(keys))
	for i, k := range keys {
		out[i] = apiKeyJSON(k)
	}
	c.JSON(http.StatusOK, gin.H{"keys": out})
}

// keyJSON is an API key as the API shows it: permissions are a list, as
// they are given when a key is created.
type keyJSON struct {
	ID           string     `json:"id"`
	AccountID    string     `json:"account_id"`
	Name         string     `json:"name"`
	Prefix       string     `json:"prefix"`
	Permissions  []string   `json:"permissions"`
	CreatedAt    time.Time  `json:"created_at"`
	LastUsedAt   *time.Time `json:"last_used_at,omitempty"`
	RevokedAt    *time.Time `json:"revoked_at,omitempty"`
	SMSPerMinute int        `json:"sms_per_minute,omitempty"`
}

func apiKeyJSON(k account.APIKey) keyJSON {
	perms := k.PermissionList()
	if perms == nil {
		perms = []string{}
	}
	return keyJSON{ID: k.ID, AccountID: k.AccountID, Name: k.Name, Prefix: k.Prefix, Permissions: perms,
		CreatedAt: k.CreatedAt, LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt, SMSPerMinute: k.SMSPerMinute}
}

// forbidden answers 403 with the reason err gives.
func forbidden(c *gin.Context, err error) {
	fail(c, http.StatusForbidden, strings.TrimPrefix(err.Error(), account.ErrForbidden.Error()+": "))
}

func (a *api) createKey(c *gin.Context) {
	var b createKeyBody
	if !decode(c, &b) {
		return
	}
	if a.o.Accounts == nil {
		fail(c, http.StatusServiceUnavailable, "key management is not available on this server")
		return
	}
	ctx := c.Request.Context()
	for _, n := range []struct{ field, value string }{{"name", b.Name}, {"account", b.Account}} {
		if l := utf8.RuneCountInString(n.value); l > maxNameLen {
			fail(c, http.StatusUnprocessableEntity, fmt.Sprintf("%s is %d characters long; the limit is %d", n.field, l, maxNameLen))
			return
		}
	}
	if b.SMSPerMinute < 0 {
		fail(c, http.StatusUnprocessableEntity, "sms_per_minute must be 0 (the configured limit) or more")
		return
	}
	perms, err := account.ParsePermissions(strings.Join(b.Permissions, ","))
	if err != nil {
		fail(c, http.StatusUnprocessableEntity, err.Error())
		return
	}
	if limit := a.o.API.SMSPerMinute; b.SMSPerMinute > limit && limit > 0 && !apiKey(c).Has(account.PermSystemAdmin) {
		// The configured limit is the operator's; an account admin may
		// give its keys less, not more.
		fail(c, http.StatusForbidden, fmt.Sprintf("sms_per_minute above the configured limit (%d) needs a %s key", limit, account.PermSystemAdmin))
		return
	}
	if b.AccountID != "" && b.Account != "" {
		fail(c, http.StatusUnprocessableEntity, "give account_id or account (a name), not both")
		return
	}
	raw, key, err := a.o.Accounts.CreateAPIKey(ctx, apiKey(c), core.NewAPIKey{AccountID: b.AccountID, AccountName: b.Account,
		Name: b.Name, Permissions: perms, SMSPerMinute: b.SMSPerMinute})
	switch {
	case errors.Is(err, account.ErrForbidden):
		forbidden(c, err)
		return
	case errors.Is(err, account.ErrNotFound):
		fail(c, http.StatusUnprocessableEntity, "account_id names no account")
		return
	case err != nil:
		a.coreError(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"key": raw, "api_key": apiKeyJSON(key),
		"note": "the key is shown only now; store it, it cannot be shown again"})
}

func (a *api) revokeKey(c *gin.Context) {
	if a.o.Accounts == nil {
		fail(c, http.StatusServiceUnavailable, "key management is not available on this server")
		return
	}
	err := a.o.Accounts.RevokeAPIKey(c.Request.Context(), apiKey(c), c.Param("id"))
	switch {
	case errors.Is(err, account.ErrForbidden):
		forbidden(c, err)
	case errors.Is(err, account.ErrNotFound):
		fail(c, http.StatusNotFound, "API key not found")
	case err != nil:
		a.coreError(c, err)
	default:
		c.JSON(http.StatusOK, gin.H{"success": true})
	}
}
