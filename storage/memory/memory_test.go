package memory_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/storage/memory"
	"github.com/rewardkit/rewardkit/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, storagetest.Harness{
		Open: func(t *testing.T) storagetest.Store {
			s, err := memory.New(memory.Options{LockWait: 200 * time.Millisecond})
			require.NoError(t, err)
			return s
		},
	})
}

func TestOptionsValidate(t *testing.T) {
	_, err := memory.New(memory.Options{LockWait: -1})
	require.Error(t, err)
}
