package rewardkit

import (
	"crypto/rand"
	"encoding/hex"
	"os"
)

// randomInstance names a host instance: the host name plus random bits, so
// that two processes on one machine differ.
func randomInstance() string {
	host, _ := os.Hostname()
	var b [6]byte
	_, _ = rand.Read(b[:])
	if host == "" {
		host = "rewardkit"
	}
	return host + "-" + hex.EncodeToString(b[:])
}
