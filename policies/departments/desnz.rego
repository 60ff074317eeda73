# DESNZ's rules, owned by DESNZ's data controller. Settings: data.departments.DESNZ.
package trust.departments.desnz

import rego.v1

import data.trust.lib

settings := data.departments.DESNZ

desnz_tables contains t if {
	some t in input.query.tables
	t.department == "DESNZ"
}

# -- Industry by area ------------------------------------------------------------------------------
# A 5-digit industry within one local authority is often a single business: the two are never
# shown (output or grouped) together.

# Looked up rather than tested with `in {...}`, which regopy rebuilds for every use of every column.
shown_uses := {"output", "group_by"}

shown(dataset, names) := {c.column |
	some c in input.query.columns
	c.dataset == dataset
	c.column in names
	some use in c.used_in
	shown_uses[use]
}

deny contains lib.denial(
	"desnz.industry_by_area",
	lib.text([t.dataset, ": ", lib.or_list(industry), " by ", lib.or_list(area), " can single out one business."]),
	"Use sic_section instead of sic2007, or region instead of la_code.",
) if {
	some t in desnz_tables
	industry := shown(t.dataset, settings.fine_industry)
	count(industry) > 0 # the area columns only when there is a fine industry column
	area := shown(t.dataset, settings.fine_geography)
	count(area) > 0
}

# -- Magnitude data ----------------------------------------------------------------------------
# Turnover and employment totals are dominated by large businesses: a stricter p% rule applies
# whenever DESNZ figures are summed or averaged.

disclosure contains object.union(settings.magnitude_disclosure, {"rule": "desnz.magnitude"}) if {
	some a in input.query.aggregates
	some t in desnz_tables
	a.dataset == t.dataset
	a.function in {"sum", "avg"}
}

# What this module does not contribute (each module answers all four; see policies/trust.rego).
row_filters := set()

column_masks := set()
