package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"regexp"
	"time"
)

type logAttrsKey struct{}
type requestIDKey struct{}

// withLogAttrs adds key/value pairs that every log line of the request
// carries.
func withLogAttrs(ctx context.Context, kv ...any) context.Context {
	prev, _ := ctx.Value(logAttrsKey{}).([]any)
	next := make([]any, 0, len(prev)+len(kv))
	next = append(append(next, prev...), kv...)
	return context.WithValue(ctx, logAttrsKey{}, next)
}

func requestID(ctx context.Context) string {
	s, _ := ctx.Value(requestIDKey{}).(string)
	return s
}

// ctxHandler is a slog.Handler that adds the request's attributes (request
// ID, tenant, subject) from the context to every record.
type ctxHandler struct{ slog.Handler }

// NewLogHandler wraps h so that records logged with a request's context
// carry its request ID and tenant.
func NewLogHandler(h slog.Handler) slog.Handler { return ctxHandler{h} }

func (h ctxHandler) Handle(ctx context.Context, r slog.Record) error {
	if kv, ok := ctx.Value(logAttrsKey{}).([]any); ok {
		r.Add(kv...)
	}
	return h.Handler.Handle(ctx, r)
}

func (h ctxHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return ctxHandler{h.Handler.WithAttrs(as)}
}
func (h ctxHandler) WithGroup(n string) slog.Handler { return ctxHandler{h.Handler.WithGroup(n)} }

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,128}$`)

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
	w.ResponseWriter.WriteHeader(s)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// observe gives every request an ID (X-Request-ID when well formed),
// recovers panics as 500s, and logs and measures it under its route pattern.
func (a *App) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rid := r.Header.Get("X-Request-ID")
		if !requestIDPattern.MatchString(rid) {
			rid = newRequestID()
		}
		w.Header().Set("X-Request-ID", rid)
		ctx := context.WithValue(r.Context(), requestIDKey{}, rid)
		ctx = withLogAttrs(ctx, "request_id", rid)
		r = r.WithContext(ctx)
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				a.log.ErrorContext(r.Context(), "panic", "panic", p)
				if sw.status == 0 {
					a.writeError(sw, r, errorf(http.StatusInternalServerError, "internal", "internal error"))
				}
			}
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			d := time.Since(start)
			a.metrics.requests.WithLabelValues(route, http.StatusText(sw.status)).Inc()
			a.metrics.latency.WithLabelValues(route).Observe(d.Seconds())
			a.log.DebugContext(r.Context(), "request", "method", r.Method, "route", route, "status", sw.status, "duration_ms", d.Milliseconds())
		}()
		next.ServeHTTP(sw, r)
	})
}
