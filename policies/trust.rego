# The trust's decision (DESIGN section 6): composes the common rules with each department's module.
#
# Modules contribute four things, each naming the rule that produced it:
#   deny          {"rule", "message", "remedy"}: any one refuses the query
#   row_filters   {"dataset", "expression", "rule"}: ANDed into that dataset's leaf
#   column_masks  {"dataset", "column", "expression", "rule"}: replace the column in its leaf
#   disclosure    {"rule", ...thresholds}: the strictest of all contributions wins (the most noise, and
#                 suppression instead of noise if any contribution requires it)
# Policy owners edit policies/common/ (the trust's own rules) or policies/departments/<dept>.rego.
#
# Each department module is listed below by name, four times (deny, row_filters, column_masks,
# disclosure). Listing them is twice as fast in regopy as iterating data.trust.departments[_],
# and `trust policy check` fails if a department module is not listed, so none is ever ignored.
#
# Policy tests, `opa test` and an OPA server read `decision`. The trust's embedded evaluator reads
# `partial_decision` (at the end) and works out the disclosure thresholds itself, as `disclosure` does.
package trust

import rego.v1

deny contains d if some d in data.trust.common.deny

deny contains d if some d in data.trust.departments.dwp.deny

deny contains d if some d in data.trust.departments.hmrc.deny

deny contains d if some d in data.trust.departments.dfe.deny

deny contains d if some d in data.trust.departments.desnz.deny

row_filters contains f if some f in data.trust.common.row_filters

row_filters contains f if some f in data.trust.departments.dwp.row_filters

row_filters contains f if some f in data.trust.departments.hmrc.row_filters

row_filters contains f if some f in data.trust.departments.dfe.row_filters

row_filters contains f if some f in data.trust.departments.desnz.row_filters

column_masks contains c if some c in data.trust.common.column_masks

column_masks contains c if some c in data.trust.departments.dwp.column_masks

column_masks contains c if some c in data.trust.departments.hmrc.column_masks

column_masks contains c if some c in data.trust.departments.dfe.column_masks

column_masks contains c if some c in data.trust.departments.desnz.column_masks

contributions contains c if some c in data.trust.common.disclosure

contributions contains c if some c in data.trust.departments.dwp.disclosure

contributions contains c if some c in data.trust.departments.hmrc.disclosure

contributions contains c if some c in data.trust.departments.dfe.disclosure

contributions contains c if some c in data.trust.departments.desnz.disclosure

# Deny by default: a query is allowed only when nothing denies it.
default allow := false

allow if count(deny) == 0

# -- Disclosure: the strictest thresholds across the datasets and rules a query touches ----------

# The places in disclosure.json that set thresholds for this query: its defaults, and the entry of each
# department and dataset the query touches that has one. Each is named by its place:
# "disclosure.datasets.dwp.pip_awards" is data.disclosure.datasets["dwp.pip_awards"] (configured_settings).
# Contributions are named by their rules, which never start with "disclosure.".
configured_thresholds contains "disclosure.defaults" if {
	_ = data.disclosure.defaults
}

configured_thresholds contains concat(".", ["disclosure.departments", t.department]) if {
	some t in input.query.tables
	_ = data.disclosure.departments[t.department]
}

configured_thresholds contains concat(".", ["disclosure.datasets", t.dataset]) if {
	some t in input.query.tables
	_ = data.disclosure.datasets[t.dataset]
}

configured_settings(name) := data.disclosure.defaults if name == "disclosure.defaults"

configured_settings(name) := data.disclosure.departments[trim_prefix(name, "disclosure.departments.")] if {
	startswith(name, "disclosure.departments.")
}

configured_settings(name) := data.disclosure.datasets[trim_prefix(name, "disclosure.datasets.")] if {
	startswith(name, "disclosure.datasets.")
}

threshold_sources contains {"rule": name, "settings": configured_settings(name)} if some name in configured_thresholds

threshold_sources contains {"rule": c.rule, "settings": c} if some c in contributions

# Each source's settings with the defaults filled in (one pass), then the strictest of each.
full := [object.union(d, object.union(s.settings, {
	"dominance": object.union(d.dominance, object.get(s.settings, "dominance", {})),
	"perturbation": object.union(d.perturbation, object.get(s.settings, "perturbation", {})),
})) | some s in threshold_sources; d := data.disclosure.defaults]

# Perturbation (the cell key method) by default; a department may require suppression instead, and then
# any dataset of that department makes the whole output suppressed rather than perturbed.
method := "suppress" if {
	some s in full
	s.perturbation.method == "suppress"
} else := "noise"

disclosure := {
	"min_units": max([s.min_units | some s in full]),
	"dominance": {
		"n": max([s.dominance.n | some s in full]),
		"k": min([s.dominance.k | some s in full]),
	},
	"p_percent": max([s.p_percent | some s in full]),
	"rounding_base": max([s.rounding_base | some s in full]),
	"perturbation": {
		"method": method,
		"max_deviation": max([s.perturbation.max_deviation | some s in full]),
		"variance": max([s.perturbation.variance | some s in full]),
		"top_share": max([s.perturbation.top_share | some s in full]),
		"cell_share": max([s.perturbation.cell_share | some s in full]),
		"magnitude_variance": max([s.perturbation.magnitude_variance | some s in full]),
		"small_values": max([s.perturbation.small_values | some s in full]),
	},
}

# The decision (DESIGN section 6). Which rules fired (for `trust policy explain` and the audit) the
# trust reads from the denials, the obligations and `disclosure_rules`; listing them again here would
# add half to the cost of every decision. Policy tests use fixtures_test.rego's fired(d).
decision := {
	"allow": allow,
	"deny": deny,
	"obligations": {
		"row_filters": row_filters,
		"column_masks": column_masks,
		"disclosure": disclosure,
	},
	"disclosure_rules": disclosure_rules,
}

# The sources' names, as threshold_sources has them (without building that set: the embedded evaluator
# needs only these).
disclosure_rules := configured_thresholds | {c.rule | some c in contributions}

# What the trust's embedded evaluator asks for: the decision without its disclosure thresholds, and the
# contributions to them. Working out the strictest thresholds costs a third of every decision in regopy,
# so the trust does it in Python (trust/policy/thresholds.py), from the places in disclosure.json that
# `disclosure_rules` names (configured_settings) and the contributions, exactly as `disclosure` does.
# tests/policy/test_thresholds.py and `trust policy check` fail if the two ever disagree: change how
# `disclosure` combines, or configured_settings, only together with thresholds.py.
partial_decision := {
	"allow": allow,
	"deny": deny,
	"obligations": {
		"row_filters": row_filters,
		"column_masks": column_masks,
	},
	"disclosure_rules": disclosure_rules,
	"contributions": contributions,
}
