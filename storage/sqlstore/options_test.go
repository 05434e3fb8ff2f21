package sqlstore_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/rewardkit/rewardkit/storage/sqlstore"
)

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		opts sqlstore.Options
		bad  bool
	}{
		{"zero", sqlstore.Options{}, false},
		{"prefix", sqlstore.Options{TablePrefix: "shop_7_"}, false},
		{"prefix upper", sqlstore.Options{TablePrefix: "Shop_"}, true},
		{"prefix dash", sqlstore.Options{TablePrefix: "shop-"}, true},
		{"negative conns", sqlstore.Options{MaxConns: -1}, true},
		{"negative lock timeout", sqlstore.Options{LockTimeout: -time.Second}, true},
		{"sub-ms lock timeout", sqlstore.Options{LockTimeout: time.Microsecond}, true},
		{"group delay off", sqlstore.Options{GroupCommitDelay: -1}, false},
		{"group delay", sqlstore.Options{GroupCommitDelay: time.Millisecond}, false},
		{"group delay too long", sqlstore.Options{GroupCommitDelay: time.Second}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.opts.Validate()
			if tt.bad {
				assert.ErrorIs(t, err, sqlstore.ErrInvalidOptions)
			} else {
				assert.NoError(t, err)
			}
		})
	}
}
