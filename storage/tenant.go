package storage

import "fmt"

// TenantID identifies one business (a brand, a marketplace, a business
// line): the isolation boundary of every stored record. Merchants, shops,
// channels and members are parties inside a tenant. No call made for one
// tenant reads or changes another tenant's records.
type TenantID string

// MaxTenantLen is the longest tenant ID accepted.
const MaxTenantLen = 64

// Validate reports ErrInvalidTenant when t is empty, too long or holds a
// character outside [A-Za-z0-9_.:-].
func (t TenantID) Validate() error {
	if t == "" {
		return fmt.Errorf("%w: empty", ErrInvalidTenant)
	}
	if len(t) > MaxTenantLen {
		return fmt.Errorf("%w: %q is longer than %d bytes", ErrInvalidTenant, string(t[:16])+"...", MaxTenantLen)
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '.', c == ':', c == '-':
		default:
			return fmt.Errorf("%w: %q has the character %q", ErrInvalidTenant, string(t), c)
		}
	}
	return nil
}

// String returns the tenant ID.
func (t TenantID) String() string { return string(t) }
