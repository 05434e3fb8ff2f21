package app

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/rewardkit/rewardkit/storage"
)

// Role is what a caller may do inside its tenant.
type Role string

// The roles a token may carry.
const (
	RoleMember   Role = "member"   // a shopper: their own points, coupons and orders
	RoleMerchant Role = "merchant" // a seller: its own coupons, orders and statements
	RoleAdmin    Role = "admin"    // the tenant's operator: everything in the tenant
)

// Claims are what a token says about its bearer.
type Claims struct {
	Tenant string `json:"tenant"`
	Role   Role   `json:"role"`
	jwt.RegisteredClaims
}

// Caller is the authenticated party of a request.
type Caller struct {
	Tenant  storage.TenantID
	Subject string
	Role    Role
}

// Is reports whether the caller is the member or merchant id.
func (c Caller) Is(role Role, id string) bool { return c.Role == role && c.Subject == id }

// key is the caller's identity for rate limits and idempotency scopes.
func (c Caller) key() string { return string(c.Tenant) + "/" + string(c.Role) + "/" + c.Subject }

// Issuer mints and verifies HS256 tokens with one secret.
type Issuer struct {
	secret []byte
	now    func() time.Time
}

// NewIssuer returns an Issuer; the secret must hold at least 32 bytes.
func NewIssuer(secret []byte, now func() time.Time) (*Issuer, error) {
	if len(secret) < 32 {
		return nil, errors.New("app: the JWT secret must hold at least 32 bytes")
	}
	if now == nil {
		now = time.Now
	}
	return &Issuer{secret: append([]byte(nil), secret...), now: now}, nil
}

// Token mints a token for a caller, valid for ttl.
func (is *Issuer) Token(tenant storage.TenantID, role Role, subject string, ttl time.Duration) (string, error) {
	now := is.now()
	c := Claims{Tenant: string(tenant), Role: role, RegisteredClaims: jwt.RegisteredClaims{
		Subject: subject, IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(is.secret)
}

// Verify checks a token's signature, algorithm, expiry and claims.
func (is *Issuer) Verify(raw string) (Caller, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(raw, &c, func(*jwt.Token) (any, error) { return is.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(is.now),
		jwt.WithLeeway(5*time.Second),
	)
	if err != nil {
		return Caller{}, err
	}
	tenant := storage.TenantID(c.Tenant)
	if err := tenant.Validate(); err != nil {
		return Caller{}, err
	}
	switch c.Role {
	case RoleMember, RoleMerchant, RoleAdmin:
	default:
		return Caller{}, errors.New("app: unknown role")
	}
	if !idPattern.MatchString(c.Subject) {
		return Caller{}, errors.New("app: bad subject")
	}
	return Caller{Tenant: tenant, Subject: c.Subject, Role: c.Role}, nil
}

type callerKey struct{}

func callerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

// authenticate puts the token's caller into the request context, or answers
// 401. The reason stays in the log, not in the answer.
func (a *App) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		raw, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || raw == "" {
			a.metrics.authFailures.WithLabelValues("missing").Inc()
			a.writeError(w, r, errUnauthenticated)
			return
		}
		c, err := a.issuer.Verify(strings.TrimSpace(raw))
		if err != nil {
			reason := "invalid"
			if errors.Is(err, jwt.ErrTokenExpired) {
				reason = "expired"
			}
			a.metrics.authFailures.WithLabelValues(reason).Inc()
			a.log.InfoContext(r.Context(), "token refused", "reason", reason, "err", err.Error())
			a.writeError(w, r, errUnauthenticated)
			return
		}
		ctx := context.WithValue(r.Context(), callerKey{}, c)
		ctx = withLogAttrs(ctx, "tenant", string(c.Tenant), "subject", c.Subject, "role", string(c.Role))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// allow answers whether the caller holds one of roles.
func allow(c Caller, roles ...Role) error {
	for _, r := range roles {
		if c.Role == r {
			return nil
		}
	}
	return errForbidden
}
