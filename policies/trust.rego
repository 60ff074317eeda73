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

threshold_sources contains {"rule": "disclosure.defaults", "settings": data.disclosure.defaults}

threshold_sources contains {"rule": concat(".", ["disclosure.departments", t.department]), "settings": s} if {
	some t in input.query.tables
	s := data.disclosure.departments[t.department]
}

threshold_sources contains {"rule": concat(".", ["disclosure.datasets", t.dataset]), "settings": s} if {
	some t in input.query.tables
	s := data.disclosure.datasets[t.dataset]
}

threshold_sources contains {"rule": c.rule, "settings": c} if some c in contributions

setting(s, key) := object.get(s, key, data.disclosure.defaults[key])

dominance(s, key) := object.get(object.get(s, "dominance", {}), key, data.disclosure.defaults.dominance[key])

perturbation(s, key) := object.get(object.get(s, "perturbation", {}), key, data.disclosure.defaults.perturbation[key])

# Perturbation (the cell key method) by default; a department may require suppression instead, and then
# any dataset of that department makes the whole output suppressed rather than perturbed.
method := "suppress" if {
	some s in threshold_sources
	perturbation(s.settings, "method") == "suppress"
} else := "noise"

disclosure := {
	"min_units": max([setting(s.settings, "min_units") | some s in threshold_sources]),
	"dominance": {
		"n": max([dominance(s.settings, "n") | some s in threshold_sources]),
		"k": min([dominance(s.settings, "k") | some s in threshold_sources]),
	},
	"p_percent": max([setting(s.settings, "p_percent") | some s in threshold_sources]),
	"rounding_base": max([setting(s.settings, "rounding_base") | some s in threshold_sources]),
	"perturbation": {
		"method": method,
		"max_deviation": max([perturbation(s.settings, "max_deviation") | some s in threshold_sources]),
		"variance": max([perturbation(s.settings, "variance") | some s in threshold_sources]),
		"top_share": max([perturbation(s.settings, "top_share") | some s in threshold_sources]),
		"cell_share": max([perturbation(s.settings, "cell_share") | some s in threshold_sources]),
		"magnitude_variance": max([perturbation(s.settings, "magnitude_variance") | some s in threshold_sources]),
		"small_values": max([perturbation(s.settings, "small_values") | some s in threshold_sources]),
	},
}

# -- What fired, for `trust policy explain` and the audit ------------------------------------------

fired contains {"rule": d.rule, "effect": "deny"} if some d in deny

fired contains {"rule": f.rule, "effect": "row_filter", "dataset": f.dataset} if some f in row_filters

fired contains {"rule": c.rule, "effect": "column_mask", "dataset": c.dataset, "column": c.column} if some c in column_masks

fired contains {"rule": s.rule, "effect": "disclosure"} if some s in threshold_sources

decision := {
	"allow": allow,
	"deny": deny,
	"obligations": {
		"row_filters": {{"dataset": f.dataset, "expression": f.expression, "rule": f.rule} | some f in row_filters},
		"column_masks": {{"dataset": c.dataset, "column": c.column, "expression": c.expression, "rule": c.rule} | some c in column_masks},
		"disclosure": disclosure,
	},
	"fired": fired,
}
