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
// A Set orders rules by priority, honours enabled flags and effective
// windows, and either stops at the first failure (Evaluate) or reports every
// failure with its reason (Explain). Sets load from JSON (Env.LoadJSON) with
// unknown fields refused and every error naming its rule. The standard
// library of incentive conditions (ParticipantType, RegionIn, SKUIn,
// MinOrderAmount, TimeWindow, PerUserCap, BudgetLeft, ...) builds CEL from
// parameters with safe quoting.
//
// See Example for a campaign's eligibility set, ExampleEnv_LoadJSON for
// rules defined in JSON, and ExampleSet_Explain for explanations.
package rules
