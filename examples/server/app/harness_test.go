package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/storage"
	"github.com/rewardkit/rewardkit/storage/memory"
)

const testSecret = "test-secret-test-secret-test-secret-0123"

const tenantA storage.TenantID = "acme"
const tenantB storage.TenantID = "globex"

// startNATS runs an in-process NATS server with JetStream for one test.
func startNATS(t testing.TB) *server.Server {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true})
	require.NoError(t, err)
	ns.Start()
	require.True(t, ns.ReadyForConnections(10*time.Second))
	t.Cleanup(ns.Shutdown)
	return ns
}

func connectNATS(t testing.TB, ns *server.Server) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(ns.ClientURL())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	return nc
}

type testEnv struct {
	app *App
	srv *httptest.Server
}

// newTestEnv runs an App over the memory store behind an httptest server.
func newTestEnv(t testing.TB, mutate func(*Config)) *testEnv {
	t.Helper()
	cfg := Config{Store: memory.MustNew(), Secret: []byte(testSecret), Tenants: []storage.TenantID{tenantA, tenantB}}
	if mutate != nil {
		mutate(&cfg)
	}
	a, err := New(context.Background(), cfg)
	require.NoError(t, err)
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return &testEnv{app: a, srv: srv}
}

func (e *testEnv) token(t testing.TB, tenant storage.TenantID, role Role, sub string) string {
	t.Helper()
	tok, err := e.app.Issuer().Token(tenant, role, sub, time.Hour)
	require.NoError(t, err)
	return tok
}

// client calls the API as one caller.
type client struct {
	t     testing.TB
	base  string
	token string
	hdr   map[string]string
}

func (e *testEnv) as(t testing.TB, tenant storage.TenantID, role Role, sub string) *client {
	return &client{t: t, base: e.srv.URL, token: e.token(t, tenant, role, sub)}
}

// reply is a decoded response envelope.
type reply struct {
	Status int
	Code   int             `json:"code"`
	Data   json.RawMessage `json:"data"`
	Error  *errorBody      `json:"error"`
	Header http.Header
}

func (r reply) errCode() string {
	if r.Error == nil {
		return ""
	}
	return r.Error.Code
}

func (r reply) into(t testing.TB, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.Data, v), string(r.Data))
}

func (c *client) with(k, v string) *client {
	n := *c
	n.hdr = map[string]string{k: v}
	for kk, vv := range c.hdr {
		if kk != k {
			n.hdr[kk] = vv
		}
	}
	return &n
}

func (c *client) do(method, path string, body any) reply {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(c.t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	require.NoError(c.t, err)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for k, v := range c.hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	out := reply{Status: resp.StatusCode, Header: resp.Header}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		require.NoError(c.t, json.Unmarshal(raw, &out), string(raw))
		require.Equal(c.t, resp.StatusCode, out.Code, "envelope code mirrors the status")
	}
	out.Status = resp.StatusCode
	return out
}

func (c *client) ok(method, path string, body any, v any) {
	c.t.Helper()
	r := c.do(method, path, body)
	require.Less(c.t, r.Status, 300, "%s %s: %d %+v", method, path, r.Status, r.Error)
	if v != nil {
		r.into(c.t, v)
	}
}
