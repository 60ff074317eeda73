# DWP's rules, owned by DWP's data controller.
package trust.departments.dwp

import rego.v1

# Special category data (health conditions) needs a project whose purpose allows it.
deny contains {"rule": "dwp.special_category", "message": sprintf("%s.%s is special category data; project %s's purpose (%s) does not allow it. Ask DWP for a project with a purpose listed in its special category approvals.", [c.dataset, c.column, input.project.id, input.project.purpose])} if {
	some c in input.query.columns
	"special_category" in c.flags
	not input.project.purpose in data.departments.DWP.special_category_purposes
}

# People who registered a national data opt-out are excluded from every DWP query.
row_filters contains {"dataset": "dwp.uc_claims", "expression": "NOT opted_out"} if {
	some t in input.query.tables
	t.dataset == "dwp.uc_claims"
}
