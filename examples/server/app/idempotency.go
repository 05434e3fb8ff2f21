package app

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"

	"github.com/rewardkit/rewardkit/storage"
)

// stored is a write's response as kept under its Idempotency-Key.
type stored struct {
	Status int             `json:"status"`
	Data   json.RawMessage `json:"data"`
}

var idemKeyPattern = regexp.MustCompile(`^[\x21-\x7e]{1,200}$`)

// write runs a state-changing handler body and answers with its result.
// With an Idempotency-Key header it runs through storage.Idempotent, scoped
// by tenant, operation and caller, in one transaction: the same key and
// payload return the first response without running fn again; the same key
// with another payload is 422 idempotency_key_reused. fn may be re-run when
// the database asks for a retry, so it must not act outside the transaction.
func (a *App) write(w http.ResponseWriter, r *http.Request, op string, payload any, fn func(ctx context.Context) (int, any, error)) (ok bool) {
	c, _ := callerFrom(r.Context())
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		status, data, err := fn(r.Context())
		if err != nil {
			a.writeError(w, r, err)
			return false
		}
		a.writeData(w, r, status, data)
		return true
	}
	if !idemKeyPattern.MatchString(key) {
		a.writeError(w, r, errorf(http.StatusBadRequest, "invalid_idempotency_key", "Idempotency-Key must be 1 to 200 printable ASCII characters"))
		return false
	}
	res, err := storage.Idempotent(r.Context(), a.store, a.store, a.clock, c.Tenant, "http:"+op+":"+string(c.Role)+":"+c.Subject, key, payload,
		func(ctx context.Context) (stored, error) {
			status, data, err := fn(ctx)
			if err != nil {
				return stored{}, err
			}
			raw, err := json.Marshal(data)
			if err != nil {
				return stored{}, err
			}
			return stored{Status: status, Data: raw}, nil
		})
	if err != nil {
		a.writeError(w, r, err)
		return false
	}
	a.writeData(w, r, res.Status, res.Data)
	return true
}
