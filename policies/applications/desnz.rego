# DESNZ's rules for applications, owned by DESNZ's data controller. Settings: data.departments.DESNZ.
package trust.applications.desnz

import rego.v1

import data.trust.applications.application as app
import data.trust.lib

settings := data.departments.DESNZ

desnz := [d | some d in app.datasets; d.department == "DESNZ"]

# Business data: every output is checked at business level, whatever else the project asks for.
warnings contains app.finding(
	"applications.desnz_business_level",
	lib.text([d.id, " describes individual businesses: outputs will be checked at business level (dominance, and a stricter p% rule for totals of turnover or employment), so cells dominated by one or two businesses will be suppressed."]),
	"DESNZ", d.id, null,
) if {
	some d in desnz
}

# Fine industry and fine geography are never shown together (query-time rule desnz.industry_by_area).
warnings contains app.finding(
	"applications.desnz_industry_by_area",
	lib.text(["`", industry, "` and `", area, "` from ", d.id, " will never be shown together (often a single business); request sic_section or region instead of one of them if that is enough."]),
	"DESNZ", d.id, null,
) if {
	some d in desnz
	names := {c.name | some c in d.columns}
	some industry in settings.fine_industry
	industry in names
	some area in settings.fine_geography
	area in names
}

# DESNZ has no blockers of its own: its data is covered by the register and the trust's rules.
blockers := set()
