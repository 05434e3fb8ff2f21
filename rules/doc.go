// Package rules decides eligibility: it evaluates named conditions over the
// Facts of one business event (the order and its lines, the user or member,
// the event, the merchant or shop, the time, custom attributes and
// caller-supplied counters) and reports pass, fail with a reason, or an
// error outcome that never counts as a pass. Rules are pure: they read facts
// and write nothing, so a per-user cap or a campaign budget is a pre-check on
// counts the caller supplies, enforced again by the domain that owns them.
//
// Rules are CEL expressions compiled once by an Env against declared fact
// types, so a misspelt field is a compile error with its line:col rather than
// a silent miss; Go functions (Func); and composites (All, Any, Not) that
// short-circuit. Money stays exact inside CEL: dec("100.00") builds a decimal,
// order.amount is one, and the comparison and arithmetic operators and
// dec_add, dec_sub, dec_mul, dec_div (explicit scale), dec_round, dec_cmp and
// dec_sum work on decimals; no amount ever becomes a double. Each evaluation
// is cost-limited: an expression whose worst case the compiler cannot bound
// runs under CEL's runtime cost limit (ErrCostLimit).
//
// Evaluation is fast without giving up CEL. CEL parses and type-checks every
// expression and stays the judge of its syntax, types and errors. When a
// checked expression is statically cost-bounded and uses only common shapes
// (fact fields, string, int and bool constants, dec("...") and timestamp or
// duration literals, the comparison operators, x in [constant list], && ||
// ! and ?: with CEL's error semantics, size, counters["k"] and other map
// reads and presence tests, timestamp arithmetic, lines.exists and
// lines.all with such a predicate), Compile also turns it into a tree of
// typed Go closures over *Facts that computes the same value without
// allocating. Any other expression runs on its CEL program. The closure
// tree decides pass and fail; when it meets an error (a missing counter, say)
// or a list over MaxListSize, it hands the evaluation to the CEL program, so
// error outcomes and their messages are always CEL's own. A Set runs such
// rules one after another without CEL, and still reports the first failure
// by name. A differential property test and a fuzz test hold the two paths
// to the same outcomes; the Interpreted option turns the closures off.
//
// A Set orders rules by priority, honours enabled flags and effective
// windows, and either stops at the first failure (Evaluate) or reports every
// failure with its reason (Explain). Sets load from JSON (Env.LoadJSON) with
// unknown fields refused and every error naming its rule. The standard
// library of incentive conditions (ParticipantType, RegionIn, SKUIn,
// MinOrderAmount, TimeWindow, PerUserCap, BudgetLeft, ...) builds CEL from
// parameters with safe quoting.
//
// See Example for a campaign's eligibility set, ExampleEnv_LoadJSON for
// rules defined in JSON, ExampleSet_Explain for explanations, and
// ExampleInterpreted for the two evaluation paths side by side.
package rules
