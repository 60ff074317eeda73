# DWP's rules for applications, owned by DWP's data controller. Settings: data.departments.DWP (the
# same settings its query-time rules read, so an approval and the queries under it agree).
package trust.applications.dwp

import rego.v1

import data.trust.applications.application as app
import data.trust.lib

settings := data.departments.DWP

# Special category data (UK GDPR Article 9) only for the purposes DWP allows it for.
blockers contains app.finding(
	"applications.dwp_special_category",
	lib.text([s[3], " is special category data (health), and the purpose ", app.purpose, " is not one DWP allows for it; choose ", lib.or_list(settings.special_category_purposes), ", remove it, or ask DWP's data controller to approve this purpose."]),
	"DWP", s[1], s[2],
) if {
	some s in app.special_category
	s[0] == "DWP"
	not app.purpose in settings.special_category_purposes
}

# Date of birth is only ever read as 1 January of the birth year (query-time rule dwp.date_of_birth_year).
warnings contains app.finding(
	"applications.dwp_date_of_birth",
	lib.text(["`date_of_birth` from ", d.id, " will only ever be given as 1 January of the birth year; request age_band instead if that is enough."]),
	"DWP", d.id, "date_of_birth",
) if {
	some d in app.datasets
	d.id in settings.date_of_birth_datasets
	some c in d.columns
	c.name == "date_of_birth"
}
