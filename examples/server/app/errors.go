package app

import (
	"context"
	"errors"
	"net/http"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/reward"
	"github.com/rewardkit/rewardkit/rules/risk"
	"github.com/rewardkit/rewardkit/settlement"
	"github.com/rewardkit/rewardkit/storage"
)

// apiError is an error with the HTTP status and machine code it answers
// with. Handlers return it for conditions the server itself detects; library
// errors are mapped by classify.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func errorf(status int, code, msg string) *apiError {
	return &apiError{Status: status, Code: code, Message: msg}
}

var (
	errUnauthenticated = errorf(http.StatusUnauthorized, "unauthenticated", "a valid bearer token is required")
	errForbidden       = errorf(http.StatusForbidden, "forbidden", "the caller may not do this")
	errNotFound        = errorf(http.StatusNotFound, "not_found", "no such resource")
	errRateLimited     = errorf(http.StatusTooManyRequests, "rate_limited", "too many requests; slow down")
)

// rule maps a library sentinel to a status and code.
type rule struct {
	target error
	status int
	code   string
}

// rules are checked in order: more specific sentinels first.
var errorRules = []rule{
	{storage.ErrIdempotencyMismatch, http.StatusUnprocessableEntity, "idempotency_key_reused"},
	{ledger.ErrKeyReused, http.StatusUnprocessableEntity, "idempotency_key_reused"},
	{storage.ErrInvalidTenant, http.StatusBadRequest, "invalid_tenant"},

	{coupon.ErrBadCheckCharacter, http.StatusBadRequest, "coupon_code_typo"},
	{coupon.ErrMalformedCode, http.StatusBadRequest, "coupon_code_malformed"},
	{coupon.ErrUnknownCode, http.StatusNotFound, "coupon_code_unknown"},
	{coupon.ErrUnknownTemplate, http.StatusNotFound, "template_not_found"},
	{coupon.ErrUnknownCoupon, http.StatusNotFound, "coupon_not_found"},
	{coupon.ErrNotOwner, http.StatusNotFound, "coupon_not_found"},
	{coupon.ErrCodeTaken, http.StatusConflict, "coupon_code_taken"},
	{coupon.ErrOutOfStock, http.StatusConflict, "out_of_stock"},
	{coupon.ErrUserLimit, http.StatusConflict, "per_user_limit"},
	{coupon.ErrOrderLimit, http.StatusConflict, "per_order_limit"},
	{coupon.ErrBudgetExhausted, http.StatusConflict, "budget_exhausted"},
	{coupon.ErrNotClaimable, http.StatusConflict, "not_claimable"},
	{coupon.ErrNotStarted, http.StatusConflict, "not_started"},
	{coupon.ErrExpired, http.StatusConflict, "coupon_expired"},
	{coupon.ErrLocked, http.StatusConflict, "coupon_locked"},
	{coupon.ErrFrozen, http.StatusConflict, "coupon_frozen"},
	{coupon.ErrUsed, http.StatusConflict, "coupon_used"},
	{coupon.ErrIllegalTransition, http.StatusConflict, "illegal_transition"},
	{coupon.ErrConditionFailed, http.StatusUnprocessableEntity, "condition_failed"},
	{coupon.ErrNotApplicable, http.StatusUnprocessableEntity, "coupon_not_applicable"},
	{coupon.ErrCurrencyMismatch, http.StatusUnprocessableEntity, "currency_mismatch"},
	{coupon.ErrInvalidTemplate, http.StatusBadRequest, "invalid_template"},
	{coupon.ErrInvalidBenefit, http.StatusBadRequest, "invalid_template"},
	{coupon.ErrInvalidRequest, http.StatusBadRequest, "invalid_request"},

	{settlement.ErrOrderNotFound, http.StatusNotFound, "order_not_found"},
	{settlement.ErrStatementNotFound, http.StatusNotFound, "statement_not_found"},
	{settlement.ErrRequote, http.StatusConflict, "requote"},
	{settlement.ErrAmountMismatch, http.StatusUnprocessableEntity, "amount_mismatch"},
	{settlement.ErrNothingToRefund, http.StatusConflict, "nothing_to_refund"},
	{settlement.ErrIllegalTransition, http.StatusConflict, "illegal_transition"},
	{settlement.ErrInvalidCart, http.StatusBadRequest, "invalid_cart"},
	{settlement.ErrCurrencyMismatch, http.StatusBadRequest, "currency_mismatch"},
	{settlement.ErrInvalidOffer, http.StatusBadRequest, "invalid_request"},
	{settlement.ErrInvalidOptions, http.StatusBadRequest, "invalid_request"},
	{settlement.ErrInvalidRequest, http.StatusBadRequest, "invalid_request"},

	{ledger.ErrInsufficientFunds, http.StatusUnprocessableEntity, "insufficient_points"},
	{ledger.ErrUnknownAccount, http.StatusNotFound, "account_not_found"},
	{ledger.ErrInvalidAmount, http.StatusBadRequest, "invalid_amount"},
	{ledger.ErrInvalidRequest, http.StatusBadRequest, "invalid_request"},
	{ledger.ErrUnknownAsset, http.StatusBadRequest, "invalid_request"},

	{reward.ErrMemberNotFound, http.StatusNotFound, "member_not_found"},
	{reward.ErrMemberExists, http.StatusConflict, "member_exists"},
	{reward.ErrOfferNotFound, http.StatusNotFound, "offer_not_found"},
	{reward.ErrOfferUnavailable, http.StatusNotFound, "offer_not_found"},
	{reward.ErrInsufficientPoints, http.StatusUnprocessableEntity, "insufficient_points"},
	{reward.ErrCampaignNotFound, http.StatusNotFound, "campaign_not_found"},
	{reward.ErrNotRanking, http.StatusNotFound, "campaign_not_found"},
	{reward.ErrNoProgress, http.StatusNotFound, "no_progress"},
	{reward.ErrInvalidEvent, http.StatusBadRequest, "invalid_event"},
	{reward.ErrInvalidArgument, http.StatusBadRequest, "invalid_request"},

	{risk.ErrInvalidAction, http.StatusBadRequest, "invalid_request"},

	{money.ErrPrecision, http.StatusBadRequest, "invalid_amount"},
	{money.ErrInvalidAmount, http.StatusBadRequest, "invalid_amount"},
	{money.ErrOverflow, http.StatusBadRequest, "invalid_amount"},
	{money.ErrCurrencyMismatch, http.StatusBadRequest, "currency_mismatch"},

	{storage.ErrNotFound, http.StatusNotFound, "not_found"},
	{storage.ErrDuplicate, http.StatusConflict, "duplicate"},
	{storage.ErrInvalidArgument, http.StatusBadRequest, "invalid_request"},
	{storage.ErrConflict, http.StatusServiceUnavailable, "retry"},
	{storage.ErrSerialization, http.StatusServiceUnavailable, "retry"},
	{storage.ErrLockTimeout, http.StatusServiceUnavailable, "retry"},
	{storage.ErrRollbackOnly, http.StatusServiceUnavailable, "retry"},
	{context.DeadlineExceeded, http.StatusServiceUnavailable, "timeout"},
	{context.Canceled, http.StatusServiceUnavailable, "cancelled"},
}

// classify returns the status, machine code and client message of err.
// Unknown errors are 500 with a generic message: their text may hold
// internals and stays in the log.
func classify(err error) (int, string, string) {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Status, ae.Code, ae.Message
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge, "body_too_large", "the request body is too large"
	}
	for _, r := range errorRules {
		if errors.Is(err, r.target) {
			if r.status >= 500 {
				return r.status, r.code, "a transient failure; retry with the same Idempotency-Key"
			}
			return r.status, r.code, err.Error()
		}
	}
	return http.StatusInternalServerError, "internal", "internal error"
}
