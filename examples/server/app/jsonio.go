package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"

	"github.com/rewardkit/rewardkit/money"
)

// envelope is every response body: code mirrors the HTTP status; data on
// success, error on failure.
type envelope struct {
	Code      int        `json:"code"`
	Data      any        `json:"data,omitempty"`
	Error     *errorBody `json:"error,omitempty"`
	RequestID string     `json:"request_id,omitempty"`
}

type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (a *App) writeData(w http.ResponseWriter, r *http.Request, status int, data any) {
	writeJSON(w, status, envelope{Code: status, Data: data})
}

func (a *App) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, code, msg := classify(err)
	rid := requestID(r.Context())
	lvl := slog.LevelInfo
	if status >= 500 {
		lvl = slog.LevelError
	}
	a.log.Log(r.Context(), lvl, "request failed", "status", status, "code", code, "err", err.Error())
	if status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, status, envelope{Code: status, Error: &errorBody{Code: code, Message: msg}, RequestID: rid})
}

// decode reads exactly one JSON object into v: at most limit bytes, no
// unknown fields, no trailing data. Errors are 400 (or 413) apiErrors with a
// message that names the problem.
func decode(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return errorf(http.StatusUnsupportedMediaType, "unsupported_media_type", "send application/json")
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return errorf(http.StatusBadRequest, "invalid_json", "the body must hold exactly one JSON object")
	}
	return nil
}

func jsonError(err error) error {
	var mbe *http.MaxBytesError
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &mbe):
		return err
	case errors.Is(err, io.EOF):
		return errorf(http.StatusBadRequest, "invalid_json", "the body is empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errorf(http.StatusBadRequest, "invalid_json", "the body is truncated JSON")
	case errors.As(err, &syn):
		return errorf(http.StatusBadRequest, "invalid_json", fmt.Sprintf("malformed JSON at byte %d", syn.Offset))
	case errors.As(err, &typ):
		return errorf(http.StatusBadRequest, "invalid_field", fmt.Sprintf("field %q must be %s", typ.Field, typ.Type))
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return errorf(http.StatusBadRequest, "unknown_field", strings.TrimPrefix(err.Error(), "json: "))
	default:
		var ae *apiError
		if errors.As(err, &ae) {
			return ae
		}
		return errorf(http.StatusBadRequest, "invalid_json", err.Error())
	}
}

// Decimal is a JSON amount written as a string ("150.00") or a number
// (150.00), kept as its exact decimal text: never through float64.
type Decimal string

// UnmarshalJSON accepts a JSON string or number in plain decimal notation.
func (d *Decimal) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return errorf(http.StatusBadRequest, "invalid_amount", "an amount must be a decimal string or number")
		}
		*d = Decimal(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return errorf(http.StatusBadRequest, "invalid_amount", "an amount must be a decimal string or number")
	}
	*d = Decimal(n.String())
	return nil
}

// amount parses d strictly in c: positive, at most c's decimals.
func (d Decimal) amount(field string, c money.Currency, allowZero bool) (money.Amount, error) {
	if d == "" {
		return money.Amount{}, errorf(http.StatusBadRequest, "invalid_amount", field+" is required")
	}
	a, err := money.Parse(string(d), c)
	if err != nil {
		return money.Amount{}, errorf(http.StatusBadRequest, "invalid_amount",
			fmt.Sprintf("%s must be a plain decimal with at most %d decimals in %s (got %q)", field, c.Scale(), c.Code(), string(d)))
	}
	if a.IsNegative() || (!allowZero && a.IsZero()) {
		return money.Amount{}, errorf(http.StatusBadRequest, "invalid_amount", field+" must be positive")
	}
	return a, nil
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,64}$`)

func checkID(field, v string) error {
	if !idPattern.MatchString(v) {
		return errorf(http.StatusBadRequest, "invalid_field", field+" must be 1 to 64 characters of [A-Za-z0-9_.:-]")
	}
	return nil
}
