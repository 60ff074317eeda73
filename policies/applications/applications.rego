# Rules that assess a data-sharing application while it is drafted (issue 18): what would block its
# approval, and what its reviewers should know. The same Rego that governs queries, read by the service
# as data.trust.applications.assessment (trust/policy/applications.py).
#
#   assessment := {"blockers": [finding], "warnings": [finding]}
#   finding    := {"rule", "message", "department", "dataset", "column"} (see application.rego)
#
# The trust's rules are here; each department's are in <department>.rego, listed below by name (a
# department module that is not listed is ignored). Owned by the trust.
package trust.applications

import rego.v1

import data.trust.applications.application as app
import data.trust.applications.gateways
import data.trust.lib

blockers contains f if some f in data.trust.applications.dwp.blockers

blockers contains f if some f in data.trust.applications.hmrc.blockers

blockers contains f if some f in data.trust.applications.dfe.blockers

blockers contains f if some f in data.trust.applications.desnz.blockers

warnings contains f if some f in data.trust.applications.dwp.warnings

warnings contains f if some f in data.trust.applications.hmrc.warnings

warnings contains f if some f in data.trust.applications.dfe.warnings

warnings contains f if some f in data.trust.applications.desnz.warnings

assessment := {
	"blockers": [f | some f in blockers],
	"warnings": [f | some f in warnings],
}

# A hint, not a limit: more columns than this from one dataset asks the applicant to check each.
many_columns := 12

# -- The application's shape -----------------------------------------------------------------------
# The service sends every field; a missing one is a fault in the service, reported once per field.

input_shape := {
	"title": "string",
	"purpose": "string",
	"legal_gateway": "string",
	"sponsor": "string",
	"applicant": "object",
	"datasets": "array",
	"members": "array",
	"expires": "string",
	"dpia": "string",
	"today": "string",
}

article := {"string": "a string", "array": "an array", "object": "an object"}

blockers contains app.finding(
	"applications.malformed_input",
	lib.text(["The application is incomplete: ", field, " should be ", article[want], "; this is a fault in the trust's service, so report it to the trust's administrators."]),
	null, null, null,
) if {
	some field, want in input_shape
	not type_name(app.doc[field]) == want
}

# -- Purpose, sponsor, title, members --------------------------------------------------------------

purposes := lib.or_list([p | some p in object.keys(data.purposes)])

blockers contains app.finding(
	"applications.purpose_unknown",
	lib.text(["'", app.purpose, "' is not a purpose the trust recognises; choose one of ", purposes, "."]),
	null, null, null,
) if {
	not data.purposes[app.purpose]
}

blockers contains app.finding(
	"applications.sponsor_unknown",
	lib.text(["The sponsor '", app.sponsor, "' is not an organisation the trust knows; choose the organisation that sponsors the project from the trust's list."]),
	null, null, null,
) if {
	not data.organisations[app.sponsor]
}

blockers contains app.finding(
	"applications.no_title",
	"The application has no title; give the project a short title.",
	null, null, null,
) if {
	app.title == ""
}

blockers contains app.finding(
	"applications.no_members",
	"The application names no members; add the people who will run queries for the project.",
	null, null, null,
) if {
	count(app.members) == 0
}

# -- The legal gateway -----------------------------------------------------------------------------

# The gateways that would cover all the data asked for, for this purpose.
suitable := {id |
	some id in object.keys(data.gateways)
	every d in app.datasets {
		gateways.covers(id, d.department, app.purpose, d.id)
	}
}

suggestion := lib.text(["Gateways in the register that cover it: ", lib.or_list(suitable), "."]) if {
	count(suitable) > 0
} else := "No gateway in the register covers all of it; ask the departments' data sharing teams."

blockers contains app.finding(
	"applications.gateway_unknown",
	lib.text(["'", app.gateway_id, "' is not a legal gateway in the register; choose the gateway the data is shared under. ", suggestion]),
	null, null, null,
) if {
	not app.gateway
}

blockers contains app.finding(
	"applications.gateway_department",
	lib.text([department, " data needs a gateway that covers ", department, " for this purpose; ", app.gateway_name, " does not. ", instead]),
	department, null, null,
) if {
	app.gateway
	some department in app.departments
	not gateways.covers_department(app.gateway_id, department)
	others := gateways.for_department(department, app.purpose)
	instead := department_suggestion(department, others)
}

department_suggestion(dept, others) := lib.text(["Gateways that do: ", lib.or_list(others), "."]) if {
	count(others) > 0
} else := lib.text(["No gateway in the register covers ", dept, " for this purpose; ask ", dept, "'s data sharing team."])

blockers contains app.finding(
	"applications.gateway_purpose",
	lib.text([app.gateway_name, " does not cover the purpose ", app.purpose, "; it covers ", lib.or_list(app.gateway.purposes), ". Choose one of those purposes or another gateway."]),
	null, null, null,
) if {
	data.purposes[app.purpose]
	not gateways.covers_purpose(app.gateway_id, app.purpose)
}

blockers contains app.finding(
	"applications.gateway_data",
	lib.text([d.id, " is outside what ", app.gateway_name, " covers (", gateways.scope_text(app.gateway_id), "); remove it or choose a gateway that covers it."]),
	d.department, d.id, null,
) if {
	some d in app.datasets
	gateways.covers_department(app.gateway_id, d.department)
	not gateways.covers_dataset(app.gateway_id, d.id)
}

blockers contains app.finding(
	"applications.accredited_researcher",
	lib.text([app.gateway_name, " allows research only by accredited researchers, and ", app.applicant_name, " is not one; apply for accreditation to the UK Statistics Authority, or ask an accredited researcher to apply."]),
	null, null, null,
) if {
	app.gateway.requires_accredited_researchers == true
	not "accredited_researcher" in app.applicant_roles
}

# -- Data minimisation -----------------------------------------------------------------------------

blockers contains app.finding(
	"applications.no_datasets",
	"The application asks for no data; add the datasets the project needs and the columns wanted from each.",
	null, null, null,
) if {
	count(app.datasets) == 0
}

blockers contains app.finding(
	"applications.no_columns",
	lib.text([d.id, " has no columns; list the columns the project needs from it, each with a reason, or remove it."]),
	d.department, d.id, null,
) if {
	some d in app.datasets
	count(d.columns) == 0
}

blockers contains app.finding(
	"applications.direct_identifier",
	lib.text(["`", c.name, "` is a direct identifier and cannot be requested. Remove it from ", d.id, "; records are linked only through pseudonymised linkage keys."]),
	d.department, d.id, c.name,
) if {
	some d in app.datasets
	some c in d.columns
	c.role == "direct_identifier"
}

blockers contains app.finding(
	"applications.column_reason",
	lib.text(["`", c.name, "` from ", d.id, " has no reason; say why the project needs it, or remove it."]),
	d.department, d.id, c.name,
) if {
	some d in app.datasets
	some c in d.columns
	c.role != "direct_identifier" # refused whatever the reason
	c.reason == ""
}

warnings contains app.finding(
	"applications.many_columns",
	lib.text([format_int(count(d.columns), 10), " columns are requested from ", d.id, "; check that the project needs each of them (more than ", format_int(many_columns, 10), " is unusual)."]),
	d.department, d.id, null,
) if {
	some d in app.datasets
	count(d.columns) > many_columns
}

# Linkage keys from two or more departments let the project link their data.
linked := {d.department | some d in app.datasets; some c in d.columns; c.role == "linkage_key"}

linkage_keys := {c.name | some d in app.datasets; some c in d.columns; c.role == "linkage_key"}

warnings contains app.finding(
	"applications.linkage",
	lib.text(["The project will link ", concat(" and ", sort(linked)), " data through ", lib.or_list(linkage_keys), "; say in the purpose and outputs why the linking is needed."]),
	null, null, null,
) if {
	count(linked) > 1
}

# -- Expiry ----------------------------------------------------------------------------------------

blockers contains app.finding(
	"applications.expiry_invalid",
	lib.text(["The expiry date '", app.expires, "' is not a date (YYYY-MM-DD); give the date the approval should end."]),
	null, null, null,
) if {
	not app.valid_date(app.expires)
}

blockers contains app.finding(
	"applications.expired",
	lib.text(["The expiry date ", app.expires, " is not after today (", app.today, "); choose a later date."]),
	null, null, null,
) if {
	app.valid_date(app.expires)
	app.expires <= app.today
}

blockers contains app.finding(
	"applications.expiry_beyond_gateway",
	lib.text([app.gateway_name, " allows agreements of at most ", format_int(app.gateway.max_years, 10), " years; choose an expiry date on or before ", latest, " instead of ", app.expires, "."]),
	null, null, null,
) if {
	app.valid_date(app.expires)
	app.valid_date(app.today)
	latest := app.years_after(app.today, app.gateway.max_years)
	app.expires > latest
}

warnings contains app.finding(
	"applications.expiry_soon",
	lib.text(["The approval would end on ", app.expires, ", within 30 days; check the date."]),
	null, null, null,
) if {
	app.valid_date(app.expires)
	app.valid_date(app.today)
	app.expires > app.today
	app.days_between(app.today, app.expires) <= 30
}

# -- Data protection impact assessment -------------------------------------------------------------

dpia_reason := lib.text([app.gateway_name, " requires one"]) if {
	app.gateway.requires_dpia == true
} else := lib.text(["the application asks for special category data (", concat(", ", sort({s[3] | some s in app.special_category})), ")"]) if {
	count(app.special_category) > 0
}

blockers contains app.finding(
	"applications.dpia",
	lib.text(["A data protection impact assessment is needed: ", dpia_reason, "; give the DPIA's reference."]),
	null, null, null,
) if {
	app.dpia == ""
	dpia_reason
}
