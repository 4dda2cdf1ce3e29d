package core

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/smsrouter/smsrouter/core/config"
	"github.com/smsrouter/smsrouter/core/inbound"
	"github.com/smsrouter/smsrouter/core/money"
	"github.com/smsrouter/smsrouter/core/number"
	"github.com/smsrouter/smsrouter/core/numbers"
)

// NumberOptions are how numbers to receive on are leased and priced.
type NumberOptions struct {
	Policy numbers.Policy
	// Prices are the assignment prices by provider (the provider blocks'
	// pricing { assignment = {...} }); a number without one costs nothing.
	Prices map[string]config.NumberPrices
}

// NumberInputError is a request about numbers the caller must fix; the
// virtual-number API answers it 400.
type NumberInputError struct{ Msg string }

func (e *NumberInputError) Error() string { return e.Msg }

// Catalogue is what GET /api/init answers: the countries that have
// numbers and the operators of their numbers, with their stable ids.
func (s *Service) Catalogue(ctx context.Context) ([]numbers.Country, []numbers.Operator, error) {
	codes, err := s.store.NumberCountries(ctx)
	if err != nil {
		return nil, nil, err
	}
	ops, err := s.store.NumberOperators(ctx)
	if err != nil {
		return nil, nil, err
	}
	countries := make([]numbers.Country, 0, len(codes))
	for _, c := range codes {
		countries = append(countries, numbers.Country{ID: numbers.CountryID(c), Code: c, Name: numbers.CountryName(c), PhoneCode: numbers.PhoneCode(c)})
	}
	kept := ops[:0]
	for _, o := range ops {
		if slices.Contains(codes, o.Country) {
			kept = append(kept, o)
		}
	}
	return countries, kept, nil
}

// GetNumberByIDs assigns a number the virtual-number API's way: by the
// numeric country id and optional operator id (0 for any).
func (s *Service) GetNumberByIDs(ctx context.Context, accountID string, countryID, operatorID int) (numbers.Number, error) {
	country, ok := numbers.CountryCode(countryID)
	if !ok {
		return numbers.Number{}, &NumberInputError{fmt.Sprintf("country_id %d is not the id of a country; GET /api/init lists them", countryID)}
	}
	operator := ""
	if operatorID != 0 {
		ops, err := s.store.NumberOperators(ctx)
		if err != nil {
			return numbers.Number{}, err
		}
		i := slices.IndexFunc(ops, func(o numbers.Operator) bool { return o.ID == operatorID })
		if i < 0 || ops[i].Country != country {
			return numbers.Number{}, &NumberInputError{fmt.Sprintf("operator_id %d is not an operator of country_id %d; GET /api/init lists them", operatorID, countryID)}
		}
		operator = ops[i].Name
	}
	return s.AssignNumber(ctx, accountID, country, operator, 0)
}

// AssignNumber gives the account an available number of country (ISO
// alpha-2) and operator ("" for any) for lease (0 for the configured one),
// charging its assignment price. numbers.ErrNoNumber when none is free.
func (s *Service) AssignNumber(ctx context.Context, accountID, country, operator string, lease time.Duration) (numbers.Number, error) {
	country = strings.ToUpper(strings.TrimSpace(country))
	if numbers.CountryID(country) == 0 {
		return numbers.Number{}, &NumberInputError{fmt.Sprintf("country %q is not an ISO 3166 alpha-2 code such as \"US\"", country)}
	}
	d, err := s.numbers.Policy.CheckLease(lease)
	if err != nil {
		return numbers.Number{}, &NumberInputError{err.Error()}
	}
	n, err := s.store.AssignNumber(ctx, numbers.Request{AccountID: accountID, Country: country, Operator: operator}, d, s.numberPrice)
	if err != nil {
		return numbers.Number{}, err
	}
	s.log.Debug("number assigned", "account_id", accountID, "number", n.E164, "until", n.LeaseUntil)
	return n, nil
}

// numberPrice is what leasing n costs; a price that does not fit in
// micro-units costs nothing rather than failing the assignment (the
// config rejects negative and infinite prices).
func (s *Service) numberPrice(n numbers.Number) money.Amount {
	p, ok := s.numbers.Prices[n.Provider].Price(n.Country, n.Operator)
	if !ok {
		return 0
	}
	a, err := money.FromFloat(p)
	if err != nil {
		return 0
	}
	return a
}

// ReleaseNumber ends the account's lease of e164 early; the number goes
// into quarantine.
func (s *Service) ReleaseNumber(ctx context.Context, accountID, e164 string) (numbers.Number, error) {
	p := s.numbers.Policy
	return s.store.ReleaseNumber(ctx, accountID, e164, s.now().Add(p.Quarantine), p.RefundUnused)
}

// ExtendNumber lengthens the account's running lease of e164 by d, up to
// the policy's max_lease from when it was assigned.
func (s *Service) ExtendNumber(ctx context.Context, accountID, e164 string, d time.Duration) (numbers.Number, error) {
	p := s.numbers.Policy
	if d < time.Minute || d > p.MaxLease {
		return numbers.Number{}, &NumberInputError{fmt.Sprintf("extend by 1m to %s, not %s", p.MaxLease, d)}
	}
	n, err := s.store.GetNumber(ctx, e164)
	if errors.Is(err, numbers.ErrUnknown) || (err == nil && (n.Holder != accountID || n.State != numbers.Assigned)) {
		return numbers.Number{}, numbers.ErrNotHeld
	}
	if err != nil {
		return numbers.Number{}, err
	}
	until := n.LeaseUntil.Add(d)
	if limit := n.AssignedAt.Add(p.MaxLease); until.After(limit) {
		return numbers.Number{}, &NumberInputError{fmt.Sprintf("a lease lasts at most %s; this one can end no later than %s",
			p.MaxLease, limit.UTC().Format(time.RFC3339))}
	}
	return s.store.ExtendNumber(ctx, accountID, e164, until)
}

// HeldNumbers lists the numbers the account holds (and those in
// quarantine after its lease).
func (s *Service) HeldNumbers(ctx context.Context, accountID string) ([]numbers.Number, error) {
	return s.store.ListNumbers(ctx, numbers.Filter{Holder: accountID})
}

// AvailableNumbers lists up to limit available numbers of a country
// (and operator); "" lists every country.
func (s *Service) AvailableNumbers(ctx context.Context, country, operator string, limit int) ([]numbers.Number, error) {
	return s.store.ListNumbers(ctx, numbers.Filter{State: numbers.Available, Country: strings.ToUpper(country), Operator: operator, Limit: limit})
}

// NumberMessages lists what reached e164 during the account's lease; an
// empty accountID (admins) lists everything that reached it, also while
// nobody held it.
func (s *Service) NumberMessages(ctx context.Context, accountID, e164 string, limit int) ([]inbound.Message, error) {
	return s.store.NumberMessages(ctx, accountID, e164, limit)
}

// ExplainInbound says what would become of a message from `from` to `to`
// received by provider now (admins): the inbound rules' decision, each
// rule's answer, and the facts, the inventory's included. Nothing is
// stored.
func (s *Service) ExplainInbound(ctx context.Context, provider, from, to, text string) (inbound.Explanation, error) {
	if strings.TrimSpace(to) == "" {
		return inbound.Explanation{}, &NumberInputError{"to is required: the number the message was sent to"}
	}
	return s.store.ExplainInbound(ctx, provider, &inbound.Message{Sender: from, Recipient: to, Text: text})
}

// Inventory lists the numbers f selects (admins).
func (s *Service) Inventory(ctx context.Context, f numbers.Filter) ([]numbers.Number, error) {
	return s.store.ListNumbers(ctx, f)
}

// AddNumber puts a number into the inventory (admins): raw is E.164, or a
// short code whose country is given.
func (s *Service) AddNumber(ctx context.Context, raw, country, provider string, receive, send bool) (numbers.Number, error) {
	n, err := NumberOf(raw, country)
	if err != nil {
		return numbers.Number{}, err
	}
	n.Provider, n.Source, n.Receive, n.Send, n.State = provider, numbers.SourceOperator, receive, send, numbers.Available
	if err := s.store.AddNumber(ctx, n); err != nil {
		return numbers.Number{}, err
	}
	return n, nil
}

// RetireNumber takes a number out of service for good (admins).
func (s *Service) RetireNumber(ctx context.Context, e164 string) error {
	return s.store.RetireNumber(ctx, e164)
}

// NumberOf reads a number for the inventory: E.164 (country and operator
// from libphonenumber), or a short code of 3 to 8 digits with its country.
func NumberOf(raw, country string) (numbers.Number, error) {
	raw = strings.TrimSpace(raw)
	if code, c, ok := strings.Cut(raw, "/"); ok {
		raw, country = code, c
	}
	if !strings.HasPrefix(raw, "+") {
		c := strings.ToUpper(strings.TrimSpace(country))
		if len(raw) < 3 || len(raw) > 8 || strings.Trim(raw, "0123456789") != "" || numbers.CountryID(c) == 0 {
			return numbers.Number{}, &NumberInputError{fmt.Sprintf("%q is neither E.164 such as +15017122661 nor a short code of 3 to 8 digits with its country (55555/US)", raw)}
		}
		return numbers.Number{E164: raw, Country: c}, nil
	}
	p, err := number.Parse(raw)
	if err != nil || p.Country == "" {
		return numbers.Number{}, &NumberInputError{fmt.Sprintf("%q is not a phone number of a country in E.164, such as +15017122661", raw)}
	}
	return numbers.Number{E164: p.E164, Country: p.Country, Operator: p.Operator}, nil
}
