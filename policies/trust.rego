# The trust's decision: composes the common rules below with each department's module.
# Contract: DESIGN section 6. Every deny names its rule and tells the person what would help.
package trust

import rego.v1

project := data.projects[input.project.id]

# Deny by default: a query is allowed only when nothing denies it.
default allow := false

allow if {
	count(deny) == 0
}

deny contains {"rule": "trust.unknown_project", "message": sprintf("Project %q is not registered with the trust; ask your project sponsor to register it or check the project id.", [input.project.id])} if {
	not data.projects[input.project.id]
}

deny contains {"rule": "trust.not_a_member", "message": sprintf("%s is not a member of project %s; ask the project lead to add you.", [input.identity.user, input.project.id])} if {
	project
	not input.identity.user in project.members
}

deny contains {"rule": "trust.analyst_role", "message": "Only users with the analyst role can run queries; ask an administrator for the role."} if {
	not "analyst" in input.identity.roles
}

deny contains {"rule": "trust.project_expired", "message": sprintf("Project %s expired on %s; ask the project sponsor to renew its approval.", [input.project.id, project.expires])} if {
	project
	input.context.date > project.expires
}

deny contains {"rule": "trust.dataset_not_approved", "message": sprintf("Project %s is not approved to use %s; ask the data owner (%s) to add it to the project's approval.", [input.project.id, t.dataset, t.department])} if {
	project
	some t in input.query.tables
	not t.dataset in project.datasets
}

deny contains {"rule": "trust.direct_identifier", "message": sprintf("%s.%s is a direct identifier and can never be used in a query; remove it.", [c.dataset, c.column])} if {
	some c in input.query.columns
	c.role == "direct_identifier"
}

deny contains {"rule": "trust.aggregated_output", "message": "The result must be aggregated: every output column a GROUP BY key or an aggregate."} if {
	not input.query.aggregated_output
}

deny contains {"rule": "trust.restricted_aggregate", "message": sprintf("%s() can reveal a single person's value; project %s is not approved for it. Use count, sum or avg, or ask for approval.", [a.function, input.project.id])} if {
	some a in input.query.aggregates
	a.function in {"min", "max", "median", "quantile"}
	not a.function in object.get(project, "allowed_aggregates", [])
}

# Each department's module adds its own denials, filters, masks and thresholds.
deny contains d if {
	some dept
	some d in data.trust.departments[dept].deny
}

row_filters contains f if {
	some dept
	some f in data.trust.departments[dept].row_filters
}

column_masks contains m if {
	some dept
	some m in data.trust.departments[dept].column_masks
}

departments_used contains t.department if {
	some t in input.query.tables
}

# The strictest thresholds across the departments a query touches.
thresholds := [object.union(data.disclosure.defaults, object.get(data.disclosure.departments, d, {})) | some d in departments_used]

disclosure := {
	"min_units": max([t.min_units | some t in thresholds]),
	"dominance": {"n": max([t.dominance.n | some t in thresholds]), "k": min([t.dominance.k | some t in thresholds])},
	"p_percent": max([t.p_percent | some t in thresholds]),
	"rounding_base": max([object.get(t, "rounding_base", 0) | some t in thresholds]),
} if count(thresholds) > 0

default disclosure := {"min_units": 10, "dominance": {"n": 2, "k": 0.9}, "p_percent": 0.1, "rounding_base": 0}

decision := {
	"allow": allow,
	"deny": deny,
	"obligations": {
		"row_filters": row_filters,
		"column_masks": column_masks,
		"disclosure": disclosure,
	},
}
