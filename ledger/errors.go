package ledger

import "errors"

// Sentinel errors. Every error the ledger returns for a condition a caller
// may branch on is, or wraps, one of them; test with errors.Is.
var (
	// ErrInvalidRequest: a request is malformed (no key, a bad account ID,
	// no postings, a posting from an account to itself, ...).
	ErrInvalidRequest = errors.New("ledger: invalid request")
	// ErrInvalidAmount: an amount is zero, negative, has more decimals than
	// its asset or does not fit the ledger's integer minor units.
	ErrInvalidAmount = errors.New("ledger: invalid amount")
	// ErrUnknownAsset: an amount's currency is not one of the ledger's
	// assets (or carries another scale than the registered one).
	ErrUnknownAsset = errors.New("ledger: unknown asset")
	// ErrUnbalanced: legs given as signed amounts do not sum to zero per
	// asset.
	ErrUnbalanced = errors.New("ledger: unbalanced legs")
	// ErrInsufficientFunds: a debit or hold would take an account below its
	// floor (zero, or its overdraft limit).
	ErrInsufficientFunds = errors.New("ledger: insufficient funds")
	// ErrUnknownAccount: the account does not exist.
	ErrUnknownAccount = errors.New("ledger: unknown account")
	// ErrTransactionNotFound: no transaction has this ID or key.
	ErrTransactionNotFound = errors.New("ledger: transaction not found")
	// ErrKeyReused: an idempotency key was used before with other postings
	// (or another hold). Errors carrying it also match
	// storage.ErrIdempotencyMismatch.
	ErrKeyReused = errors.New("ledger: idempotency key reused with a different request")
	// ErrHoldNotFound: no hold has this ID.
	ErrHoldNotFound = errors.New("ledger: hold not found")
	// ErrHoldClosed: the hold was already captured in full, voided or
	// released after expiry.
	ErrHoldClosed = errors.New("ledger: hold closed")
	// ErrHoldExpired: the hold's expiry has passed; it can only be released.
	ErrHoldExpired = errors.New("ledger: hold expired")
	// ErrOverCapture: a capture exceeds what is left of the hold.
	ErrOverCapture = errors.New("ledger: capture exceeds the hold")
	// ErrOverReversal: a reversal exceeds what is left of the original.
	ErrOverReversal = errors.New("ledger: reversal exceeds the original")
	// ErrInvalidConfig: Config misses something New needs.
	ErrInvalidConfig = errors.New("ledger: invalid config")
	// ErrUnsupported: the Store cannot answer the query (TrialBalance
	// needs a TotalStore).
	ErrUnsupported = errors.New("ledger: not supported by the store")
)
