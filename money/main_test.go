package money_test

import (
	"flag"
	"os"
	"testing"
)

// minPropertyCases is how many random cases each property test runs in a plain
// `go test` (rapid's own default is 100).
const minPropertyCases = 10000

// rapidChecksDefaulted reports whether TestMain raised rapid.checks itself (neither
// the command line nor RAPID_CHECKS chose a number).
var rapidChecksDefaulted bool

func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) {
		if f.Name == "rapid.checks" {
			set = true
		}
	})
	if _, env := os.LookupEnv("RAPID_CHECKS"); !set && !env {
		if err := flag.Set("rapid.checks", "10000"); err == nil {
			rapidChecksDefaulted = true
		}
	}
	os.Exit(m.Run())
}
