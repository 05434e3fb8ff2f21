package settlement_test

import (
	"flag"
	"os"
	"testing"
)

// propertyChecks is how many random cases each property test runs in a plain
// `go test` (rapid's own default is 100); -rapid.checks or RAPID_CHECKS
// override it.
const propertyChecks = "2000"

func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "rapid.checks" })
	if _, env := os.LookupEnv("RAPID_CHECKS"); !set && !env {
		_ = flag.Set("rapid.checks", propertyChecks)
	}
	os.Exit(m.Run())
}
