package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/smsrouter/smsrouter/core"
	"github.com/smsrouter/smsrouter/core/money"
)

// recipients is the to of a quote: one number as in a send, or a list as
// in a bulk, so either body can be quoted as it is.
type recipients []string

func (r *recipients) UnmarshalJSON(b []byte) error {
	if bytes.HasPrefix(bytes.TrimSpace(b), []byte(`"`)) {
		var one string
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*r = recipients{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("to must be a phone number or a list of them")
	}
	*r = many
	return nil
}

// quoteBody is a send's or a bulk's body. send_at, validity and
// callback_url are accepted so the same body can be posted, and checked
// for form; they change no price.
type quoteBody struct {
	To          recipients `json:"to"`
	Message     string     `json:"message"`
	From        string     `json:"from"`
	CallbackURL string     `json:"callback_url"`
	labels
	scheduling
}

type quotedRecipient struct {
	To       string        `json:"to"`
	Country  string        `json:"country,omitempty"`
	Operator string        `json:"operator,omitempty"`
	Route    string        `json:"route,omitempty"`
	Provider string        `json:"provider,omitempty"`
	Price    *money.Amount `json:"price,omitempty"`
	Error    string        `json:"error,omitempty"`
}

type quoteAnswer struct {
	Encoding       string            `json:"encoding"`
	Segments       int               `json:"segments"`
	UCS2Characters []string          `json:"ucs2_characters"`
	Recipients     []quotedRecipient `json:"recipients"`
	Total          money.Amount      `json:"total"`
	Currency       string            `json:"currency"`
	Balance        money.Amount      `json:"balance"`
	CreditLimit    *money.Amount     `json:"credit_limit,omitempty"`
	Covered        bool              `json:"covered"`
}

// quote answers what a send or bulk body would cost and where it would
// go, storing and sending nothing.
func (a *api) quote(c *gin.Context) {
	var b quoteBody
	if !decode(c, &b) {
		return
	}
	req := core.SendRequest{Message: b.Message, From: b.From, Kind: b.Kind, Tags: b.Tags}
	if !b.schedule(c, &req) {
		return
	}
	q, err := a.o.Messages.Quote(c.Request.Context(), apiKey(c).AccountID, b.To, req)
	if err != nil {
		a.coreError(c, err)
		return
	}
	c.JSON(http.StatusOK, renderQuote(q, a.currency()))
}

func renderQuote(q core.Quote, currency string) quoteAnswer {
	out := quoteAnswer{Encoding: q.Encoding, Segments: q.Segments, UCS2Characters: q.NonGSM, Total: q.Total,
		Currency: currency, Balance: q.Balance, CreditLimit: q.CreditLimit, Covered: q.Covered,
		Recipients: make([]quotedRecipient, len(q.Recipients))}
	if out.UCS2Characters == nil {
		out.UCS2Characters = []string{}
	}
	for i, r := range q.Recipients {
		out.Recipients[i] = quotedRecipient{To: r.To, Country: r.Country, Operator: r.Operator, Route: r.Route,
			Provider: r.Provider, Error: r.Error}
		if r.Error == "" {
			price := r.Price
			out.Recipients[i].Price = &price
		}
	}
	return out
}
