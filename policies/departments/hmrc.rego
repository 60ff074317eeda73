# HMRC's rules, owned by HMRC's data controller. Settings: data.departments.HMRC.
package trust.departments.hmrc

import rego.v1

import data.trust.lib

settings := data.departments.HMRC

hmrc_datasets contains t.dataset if {
	some t in input.query.tables
	t.department == "HMRC"
}

keys := lib.or_list(settings.linkage_keys)

# -- Linkage only through the linkage key ----------------------------------------------------------
# HMRC data may be linked to other data only through a pseudonymised linkage key (Commissioners
# for Revenue and Customs Act 2005 s.18): never by matching on dates, places or amounts.

deny contains lib.denial(
	"hmrc.linkage_only",
	lib.text(["HMRC data may be joined only on ", keys, "; the join ", j.left, " = ", j.right, " uses ", side, "."]),
	lib.text(["Join ", lib.dataset_of(side), " to the other dataset on ", keys, " instead."]),
) if {
	some j in input.query.joins
	some side in [j.left, j.right]
	lib.dataset_of(side) in hmrc_datasets
	not lib.column_of(side) in settings.linkage_keys
}

# -- Earnings are top-coded ------------------------------------------------------------------------
# A monthly amount above HMRC's cap counts as the cap, wherever the query reads it.

top_code[[dataset, column]] := lib.text(["CASE WHEN ", column, " > ", format_int(cap, 10), " THEN ", format_int(cap, 10), ".0 ELSE ", column, " END"]) if {
	some dataset in hmrc_datasets
	some column, cap in settings.top_code[dataset]
}

column_masks contains {"dataset": key[0], "column": key[1], "expression": expression, "rule": "hmrc.top_code"} if {
	some key, expression in top_code
}

# Fail closed: a cap that cannot be turned into a mask refuses the query.
deny contains lib.denial(
	"hmrc.top_code",
	lib.text(["HMRC's top-code for ", dataset, ".", column, " is not a whole number, so the column cannot be protected."]),
	"HMRC's policy owner must correct top_code in policies/data/departments.json (`trust policy check`).",
) if {
	some dataset in hmrc_datasets
	some column, _ in settings.top_code[dataset]
	not top_code[[dataset, column]]
}

# -- Employer level ----------------------------------------------------------------------------
# Earnings are never published at employer level below HMRC's employer threshold. A query is at
# employer level when it links HMRC data to employers: an employer_id join or an employer dataset.

# (Defaulted, so regopy works it out once per decision rather than in each rule that asks.)
default hmrc_queried := false

hmrc_queried if count(hmrc_datasets) > 0

employer_level if {
	hmrc_queried
	some j in input.query.joins
	some side in [j.left, j.right]
	lib.column_of(side) == "employer_id"
}

employer_level if {
	hmrc_queried
	some t in input.query.tables
	t.dataset in settings.employer_level_datasets
}

disclosure contains object.union(settings.employer_level_disclosure, {"rule": "hmrc.employer_level"}) if employer_level

# What this module does not contribute (each module answers all four; see policies/trust.rego).
row_filters := set()
