// Command server is rewardkit's reference host service: an HTTP JSON API
// over the library with JWT auth, rate limits, NATS JetStream events and
// Prometheus metrics. `go run .` starts it on the in-memory store with an
// in-process NATS server and prints how to call it; see README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/rewardkit/rewardkit/examples/server/app"
	"github.com/rewardkit/rewardkit/storage"
	"github.com/rewardkit/rewardkit/storage/memory"
	"github.com/rewardkit/rewardkit/storage/sqlstore"
)

// devSecret signs tokens when no secret is configured: for local runs only.
const devSecret = "rewardkit-dev-secret-change-me-0123456789"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func run() error {
	addr := flag.String("addr", env("REWARDKIT_ADDR", "127.0.0.1:8080"), "listen address")
	storeKind := flag.String("store", env("REWARDKIT_STORE", "memory"), "storage: memory, postgres or sqlite")
	dsn := flag.String("dsn", env("REWARDKIT_DSN", ""), "PostgreSQL DSN (-store postgres) or SQLite file (-store sqlite)")
	natsURL := flag.String("nats", env("REWARDKIT_NATS_URL", ""), "external NATS URL; empty starts an in-process NATS with JetStream")
	natsDir := flag.String("nats-dir", env("REWARDKIT_NATS_DIR", ""), "JetStream store directory of the in-process NATS; empty: a temporary one")
	secret := flag.String("secret", env("REWARDKIT_JWT_SECRET", ""), "HS256 secret (at least 32 bytes); empty uses a development secret")
	tenants := flag.String("tenants", env("REWARDKIT_TENANTS", "demo"), "comma-separated tenants to seed and sweep")
	trustXFF := flag.Bool("trust-forwarded-for", false, "take the client IP from X-Forwarded-For")
	logLevel := flag.String("log-level", env("REWARDKIT_LOG_LEVEL", "info"), "debug, info, warn or error")
	flag.Parse()

	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*logLevel)); err != nil {
		return err
	}
	logger := slog.New(app.NewLogHandler(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: lvl})))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	store, closeStore, err := openStore(ctx, *storeKind, *dsn)
	if err != nil {
		return err
	}
	defer closeStore()

	url := *natsURL
	if url == "" {
		ns, err := startNATS(*natsDir)
		if err != nil {
			return err
		}
		defer ns.Shutdown()
		url = ns.ClientURL()
		logger.Info("in-process NATS started", "url", url)
	}
	nc, err := nats.Connect(url, nats.Name("rewardkit-server"), nats.MaxReconnects(-1))
	if err != nil {
		return err
	}
	defer nc.Drain()

	key := *secret
	if key == "" {
		key = devSecret
		logger.Warn("using the development JWT secret; set -secret or REWARDKIT_JWT_SECRET")
	}
	var ts []storage.TenantID
	for _, t := range strings.Split(*tenants, ",") {
		if t = strings.TrimSpace(t); t != "" {
			ts = append(ts, storage.TenantID(t))
		}
	}
	a, err := app.New(ctx, app.Config{Store: store, NATS: nc, Secret: []byte(key), Tenants: ts, Logger: logger, TrustForwardedFor: *trustXFF})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 60 * time.Second}
	errc := make(chan error, 2)
	go func() { errc <- a.Run(ctx) }()
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	if *secret == "" {
		printUsage(a, "http://"+ln.Addr().String(), ts[0])
	}
	logger.Info("listening", "addr", ln.Addr().String(), "store", *storeKind)
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	shut, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return errors.Join(err, srv.Shutdown(shut))
}

func openStore(ctx context.Context, kind, dsn string) (app.Store, func(), error) {
	switch kind {
	case "memory":
		s, err := memory.New(memory.Options{})
		return s, func() {}, err
	case "postgres":
		if dsn == "" {
			return nil, nil, errors.New("-store postgres needs -dsn or REWARDKIT_DSN")
		}
		s, err := sqlstore.OpenPostgres(ctx, dsn, sqlstore.Options{MaxConns: 16})
		if err != nil {
			return nil, nil, err
		}
		return s, func() { _ = s.Close() }, nil
	case "sqlite":
		if dsn == "" {
			dsn = "rewardkit.db"
		}
		s, err := sqlstore.OpenSQLite(ctx, dsn, sqlstore.Options{})
		if err != nil {
			return nil, nil, err
		}
		return s, func() { _ = s.Close() }, nil
	}
	return nil, nil, fmt.Errorf("unknown -store %q (memory, postgres, sqlite)", kind)
}

// startNATS runs a NATS server with JetStream inside this process, on a
// free loopback port.
func startNATS(dir string) (*server.Server, error) {
	if dir == "" {
		d, err := os.MkdirTemp("", "rewardkit-nats-")
		if err != nil {
			return nil, err
		}
		dir = d
	}
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoSigs: true, NoLog: true})
	if err != nil {
		return nil, err
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("in-process NATS did not start")
	}
	return ns, nil
}

func printUsage(a *app.App, base string, tenant storage.TenantID) {
	is := a.Issuer()
	admin, _ := is.Token(tenant, app.RoleAdmin, "ops", 24*time.Hour)
	member, _ := is.Token(tenant, app.RoleMember, "alice", 24*time.Hour)
	merchant, _ := is.Token(tenant, app.RoleMerchant, "10086", 24*time.Hour)
	fmt.Printf(`
rewardkit reference server on %[1]s (tenant %[2]q, in-memory store, in-process NATS)
Development tokens (24h):
  export ADMIN=%[3]s
  export ALICE=%[4]s
  export SHOP=%[5]s
Try (bodies are JSON: curl needs the content type):
  alias rk='curl -s -H "Content-Type: application/json"'
  rk -XPOST %[1]s/api/v1/members -H "Authorization: Bearer $ALICE" -d '{"email":"alice@example.com","name":"Alice"}'
  rk -XPOST %[1]s/api/v1/members/alice/points/accrue -H "Authorization: Bearer $ADMIN" -H 'Idempotency-Key: grant-1' -d '{"points":1200,"reason":"welcome"}'
  rk %[1]s/api/v1/members/me -H "Authorization: Bearer $ALICE"
  rk -XPOST %[1]s/api/v1/coupons/claim -H "Authorization: Bearer $ALICE" -d '{"template_id":"FLASH20"}'
  rk %[1]s/api/v1/coupons -H "Authorization: Bearer $ALICE"
  rk -XPOST %[1]s/api/v1/coupon/consume -H "Authorization: Bearer $SHOP" -d '{"coupon_id":"<id from above>","merchant_id":"10086","amount":"150.00"}'
  rk -XPOST %[1]s/api/v1/events -H "Authorization: Bearer $ADMIN" -d '{"id":"ev-1","type":"order_installed","time":"2026-01-02T10:00:00Z","user_id":"alice","order_id":"A1","amount":{"amount":"99.00","currency":"USD"}}'
  rk %[1]s/api/v1/leaderboards/top-spenders -H "Authorization: Bearer $ALICE"
  rk %[1]s/metrics
`, base, tenant, admin, member, merchant)
}
