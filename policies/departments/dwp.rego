# DWP's rules, owned by DWP's data controller. Settings: data.departments.DWP.
package trust.departments.dwp

import rego.v1

import data.trust.lib

settings := data.departments.DWP

project := data.projects[input.project.id]

project_id := object.get(input, ["project", "id"], "(no project)")

purpose := object.get(project, "purpose", "(none)")

dwp_tables contains t if {
	some t in input.query.tables
	t.department == "DWP"
}

# -- Special category data (UK GDPR Article 9: health conditions) ---------------------------------
# Needs a project whose purpose DWP has approved for it. A whole dataset or a single column can
# carry the special_category flag in the catalogue.

special_category contains t.dataset if {
	some t in dwp_tables
	"special_category" in t.flags
}

# A flagged column, unless its whole dataset is flagged already (one reason is enough).
special_category contains lib.text([c.dataset, ".", c.column]) if {
	some c in input.query.columns
	"special_category" in c.flags # first: most columns have no flag
	some t in dwp_tables
	t.dataset == c.dataset
	not "special_category" in t.flags
}

deny contains lib.denial(
	"dwp.special_category",
	lib.text([what, " is special category data (health), and project ", project_id, "'s purpose, ", purpose, ", is not one DWP allows for it."]),
	lib.text(["Use a project whose purpose is ", lib.or_list(settings.special_category_purposes), ", or ask DWP's data controller to approve this purpose."]),
) if {
	some what in special_category
	not purpose in settings.special_category_purposes
}

# -- National data opt-out ---------------------------------------------------------------------
# People who registered an opt-out are excluded from every DWP query. Each DWP dataset declares
# how: an opt-out column to filter on, or an exemption with its reason.

opt_out_filter[t.dataset] := lib.text(["NOT ", settings.opt_out_columns[t.dataset]]) if some t in dwp_tables

row_filters contains {"dataset": dataset, "expression": expression, "rule": "dwp.opt_out"} if {
	some dataset, expression in opt_out_filter
}

deny contains lib.denial(
	"dwp.opt_out",
	lib.text(["DWP has not declared how national data opt-outs are applied to ", t.dataset, "."]),
	"DWP's policy owner must add it to opt_out_columns or opt_out_exempt in policies/data/departments.json.",
) if {
	some t in dwp_tables
	not opt_out_filter[t.dataset]
	not settings.opt_out_exempt[t.dataset]
}

# -- Date of birth ---------------------------------------------------------------------------------
# Usable only as a year: wherever a query reads it, it is 1 January of the birth year
# (age_band gives the age).

column_masks contains {
	"dataset": t.dataset,
	"column": "date_of_birth",
	"expression": "CAST(date_trunc('year', date_of_birth) AS DATE)",
	"rule": "dwp.date_of_birth_year",
} if {
	some t in dwp_tables
	t.dataset in settings.date_of_birth_datasets
}

# What this module does not contribute (each module answers all four; see policies/trust.rego).
disclosure := set()
