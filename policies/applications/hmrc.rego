# HMRC's rules for applications, owned by HMRC's data controller. Settings: data.departments.HMRC.
# Which gateways may carry HMRC data (Commissioners for Revenue and Customs Act 2005 s.18(2)
# exceptions, Digital Economy Act 2017 Part 5) is in the register: the departments of each gateway.
package trust.applications.hmrc

import rego.v1

import data.trust.applications.application as app
import data.trust.lib

settings := data.departments.HMRC

hmrc := [d | some d in app.datasets; d.department == "HMRC"]

keys := lib.or_list(settings.linkage_keys)

# HMRC data is linked to other data only through a linkage key: without one it cannot be linked at all.
warnings contains app.finding(
	"applications.hmrc_linkage_key",
	lib.text(["HMRC data can be joined to other departments' data only on ", keys, ", and none is requested from ", d.id, "; add one if the project links it."]),
	"HMRC", d.id, null,
) if {
	some d in hmrc
	some other in app.datasets
	other.department != "HMRC"
	not linkable(d)
}

linkable(d) if {
	some c in d.columns
	c.name in settings.linkage_keys
}

# Top-coded earnings: amounts above the cap count as the cap in every query.
warnings contains app.finding(
	"applications.hmrc_top_code",
	lib.text(["`", c.name, "` from ", d.id, " is top-coded: monthly amounts above ", format_int(cap, 10), " count as ", format_int(cap, 10), "."]),
	"HMRC", d.id, c.name,
) if {
	some d in hmrc
	some c in d.columns
	cap := settings.top_code[d.id][c.name]
}

# Earnings linked to employers are published only at HMRC's employer threshold.
warnings contains app.finding(
	"applications.hmrc_employer_level",
	lib.text(["Linking HMRC earnings to employers puts outputs at employer level: each cell will need at least ", format_int(settings.employer_level_disclosure.min_units, 10), " units and a stricter dominance test."]),
	"HMRC", null, null,
) if {
	count(hmrc) > 0
	employer_level
}

employer_level if {
	some d in app.datasets
	d.id in settings.employer_level_datasets
}

employer_level if {
	some d in hmrc
	some c in d.columns
	c.name == "employer_id"
}

# HMRC's duty of confidentiality (CRCA 2005 s.18(1)) allows disclosure only under an exception in
# s.18(2) or another enactment. A register entry that lists HMRC under any other legislation is refused
# here, so a mistake in the register cannot open HMRC data.
legislation := [
	"Commissioners for Revenue and Customs Act 2005",
	"Digital Economy Act 2017 Part 5",
	"Statistics and Registration Service Act 2007",
]

blockers contains app.finding(
	"applications.hmrc_gateway",
	lib.text(["HMRC data may be shared only under CRCA 2005 s.18(2) or another enactment that permits it (", concat("; ", legislation), "), and ", app.gateway_name, " cites ", app.gateway.citation, "; choose another gateway, or ask HMRC to correct the register."]),
	"HMRC", null, null,
) if {
	count(hmrc) > 0
	"HMRC" in app.gateway.departments
	not permitted(app.gateway.citation)
}

permitted(citation) if {
	some law in legislation
	startswith(citation, law)
}
