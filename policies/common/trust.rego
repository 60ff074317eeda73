# The trust's own rules, common to every department: safe people, safe projects, safe data,
# and the area restriction for councils and Strategic Authorities. Owned by the trust.
package trust.common

import rego.v1

import data.trust.lib

# Approvals come from policy data, never from the input: a client cannot widen its own project.
project := data.projects[input.project.id]

organisation := data.organisations[input.identity.organisation]

# Values for messages, with defaults: a denial whose message used an undefined value would
# silently not fire, so messages never depend on the input being complete.
user := object.get(input, ["identity", "user"], "(no user)")

project_id := object.get(input, ["project", "id"], "(no project)")

org_name := object.get(input, ["identity", "organisation"], "(no organisation)")

approved_tables contains t if {
	some t in input.query.tables
	t.dataset in project.datasets
}

# The input must have the contract's shape (DESIGN section 6). Checked with type_name, which
# behaves the same in regopy and OPA (regopy's is_string(null) is undefined, not false).
input_shape := {
	"identity.user": "string",
	"identity.roles": "array",
	"identity.organisation": "string",
	"project.id": "string",
	"context.date": "string",
	"query.tables": "array",
	"query.columns": "array",
	"query.aggregates": "array",
	"query.joins": "array",
}

# The usual case, checked cheaply: only an input that fails it is examined path by path.
well_formed if {
	type_name(input.identity.user) == "string"
	type_name(input.identity.roles) == "array"
	type_name(input.identity.organisation) == "string"
	type_name(input.project.id) == "string"
	type_name(input.context.date) == "string"
	type_name(input.query.tables) == "array"
	type_name(input.query.columns) == "array"
	type_name(input.query.aggregates) == "array"
	type_name(input.query.joins) == "array"
}

deny contains lib.denial(
	"trust.malformed_input",
	lib.text(["The policy input is incomplete: ", path, " should be a ", want, "."]),
	"This is a fault in the trust, not in your query; report it to the trust's administrators.",
) if {
	not well_formed
	some path, want in input_shape
	type_name(object.get(input, split(path, "."), null)) != want
}

# -- Safe people -----------------------------------------------------------------------------------

deny contains lib.denial(
	"trust.analyst_role",
	lib.text([user, " does not hold the analyst role, which running a query needs."]),
	"Ask a trust administrator to grant the analyst role.",
) if {
	not "analyst" in input.identity.roles
}

deny contains lib.denial(
	"trust.unknown_organisation",
	lib.text(["Organisation '", org_name, "' is not registered with the trust, so its access cannot be scoped."]),
	"Ask a trust administrator to register it in policies/data/organisations.json.",
) if {
	not organisation
}

deny contains lib.denial(
	"trust.not_a_member",
	lib.text([user, " is not a member of project ", project_id, "."]),
	lib.text(["Ask the project's sponsor (", object.get(project, "sponsor", "see the project record"), ") to add you to the project."]),
) if {
	project
	not user in project.members
}

# -- Safe projects ---------------------------------------------------------------------------------

deny contains lib.denial(
	"trust.unknown_project",
	lib.text(["Project '", project_id, "' is not registered with the trust."]),
	"Check the project id, or apply for the project (`trust apply`, docs/projects.md): the data owners approve it in the trust.",
) if {
	not project
}

deny contains lib.denial(
	"trust.project_expired",
	lib.text(["Project ", project_id, "'s approval expired on ", object.get(project, "expires", "(no expiry date recorded)"), "."]),
	lib.text(["To renew the approval, apply to amend the project with a later expiry (`trust apply --amends ", project_id, "`, docs/projects.md); its data owners approve it in the trust."]),
) if {
	project

	# A project without an expiry date counts as expired: every approval must end.
	input.context.date > object.get(project, "expires", "")
}

deny contains lib.denial(
	"trust.dataset_not_approved",
	lib.text(["Project ", project_id, " is not approved to use ", t.dataset, "."]),
	lib.text(["Ask the data owner (", t.department, ") to add ", t.dataset, " to the project's approval."]),
) if {
	project
	some t in input.query.tables
	not t.dataset in project.datasets
}

deny contains lib.denial(
	"trust.column_not_approved",
	lib.text(["Project ", project_id, " is approved for only some columns of ", c.dataset, ", and ", c.column, " is not one of them."]),
	lib.text(["Remove ", c.column, " from the query, or ask the data owner to approve it for the project (approved: ", concat(", ", approved), ")."]),
) if {
	some c in input.query.columns
	approved := project.columns[c.dataset]
	not c.column in approved
}

# -- Safe data -------------------------------------------------------------------------------------

deny contains lib.denial(
	"trust.direct_identifier",
	lib.text([c.dataset, ".", c.column, " is a direct identifier."]),
	"Remove it: direct identifiers can never be used; link datasets on their linkage key instead.",
) if {
	some c in input.query.columns
	c.role == "direct_identifier"
}

deny contains lib.denial(
	"trust.aggregated_output",
	"The result is not aggregated.",
	"Make every output column a GROUP BY key or an aggregate such as count(*).",
) if {
	not input.query.aggregated_output == true
}

# Looked up (restricted_aggregates[f]) rather than tested with `f in {...}`: regopy builds a set
# literal again each time it meets one, and `in` is a built-in call.
restricted_aggregates := {"min", "max", "median", "quantile"}

deny contains lib.denial(
	"trust.restricted_aggregate",
	lib.text([a.function, "() can reveal a single person's value and project ", project_id, " is not approved for it."]),
	"Use count, sum or avg, or ask the data owners to add it to the project's allowed aggregates.",
) if {
	some a in input.query.aggregates
	restricted_aggregates[a.function]
	not a.function in project.allowed_aggregates
}

# -- Councils and Strategic Authorities see only their own areas -------------------------------

# (Defaulted, so regopy evaluates it once per decision rather than in each rule that asks.)
default area_restricted := false

area_restricted if organisation.type in {"council", "strategic_authority"}

area_restricted if count(object.get(organisation, "areas", [])) > 0

area_column(t) := data.departments[t.department].area_columns[t.dataset]

areas := object.get(organisation, "areas", [])

# Area codes go into SQL: only well-formed ONS codes are accepted (checked again by `trust policy check`).
valid_area(code) if regex.match(`^[EWSN][0-9]{8}$`, code)

invalid_areas contains code if {
	some code in areas
	not valid_area(code)
}

deny contains lib.denial(
	"trust.areas_invalid",
	lib.text([org_name, "'s registered areas include '", code, "', which is not an ONS area code."]),
	"Ask a trust administrator to correct the organisation's areas in policies/data/organisations.json.",
) if {
	area_restricted
	some code in invalid_areas
}

deny contains lib.denial(
	"trust.areas_not_configured",
	lib.text([org_name, " is a local organisation with no areas registered, so its access cannot be limited to them."]),
	"Ask a trust administrator to list its local authority districts in policies/data/organisations.json.",
) if {
	area_restricted
	count(areas) == 0
}

# Only datasets the project may use: an unapproved one is already denied for a plainer reason.
deny contains lib.denial(
	"trust.area_not_restrictable",
	lib.text([t.dataset, " has no area column, so it cannot be limited to ", org_name, "'s areas."]),
	lib.text(["Use a dataset with an area column, or ask ", t.department, " to declare one in policies/data/departments.json."]),
) if {
	area_restricted
	some t in approved_tables
	not area_column(t)
}

# Every area is a well-formed code, so a filter can be built from them. (A rule of its own, so that
# regopy asks area_restricted first: it reorders the conditions within area_filter's body.)
default areas_usable := false

areas_usable if {
	area_restricted
	count(areas) > 0
	count(invalid_areas) == 0
}

area_filter[t.dataset] := lib.text([area_column(t), " IN (", lib.sql_list(areas), ")"]) if {
	areas_usable
	some t in input.query.tables
}

row_filters contains {"dataset": dataset, "expression": expression, "rule": "trust.own_areas"} if {
	some dataset, expression in area_filter
}

# Fail closed: a dataset that should be filtered but whose filter could not be built is refused.
deny contains lib.denial(
	"trust.own_areas",
	lib.text([t.dataset, " cannot be limited to ", org_name, "'s areas because its area filter could not be built."]),
	"Ask a trust administrator to check the organisation's areas and the dataset's area column (`trust policy check`).",
) if {
	area_restricted
	some t in input.query.tables
	area_column(t)
	not area_filter[t.dataset]
}

# Conditions a data owner set when approving the project's agreement (trust.service.agreements): row
# filters on their own datasets, and stricter disclosure thresholds for queries that read their data.
row_filters contains {"dataset": f.dataset, "expression": f.expression, "rule": "trust.agreement_condition"} if {
	some f in object.get(project, ["conditions", "row_filters"], [])
	some t in input.query.tables
	t.dataset == f.dataset
}

disclosure contains object.union(settings, {"rule": concat(".", ["trust.agreement_condition", department])}) if {
	some department, settings in object.get(project, ["conditions", "disclosure"], {})
	some t in input.query.tables
	t.department == department
}

# What this module does not contribute (each module answers all four; see policies/trust.rego).
column_masks := set()
