# DfE's rules for applications, owned by DfE's data controller. Settings: data.departments.DfE.
package trust.applications.dfe

import rego.v1

import data.trust.applications.application as app
import data.trust.lib

settings := data.departments.DfE

# Analysis by provider needs the project in provider_level_projects (query-time rule dfe.provider_level),
# which DfE adds once it approves provider-level work.
warnings contains app.finding(
	"applications.dfe_provider_level",
	lib.text(["Analysis by provider (`provider_id` from ", d.id, ") also needs DfE to approve the project for provider-level work; say why it is needed, or use region or subject_area."]),
	"DfE", d.id, "provider_id",
) if {
	some d in app.datasets
	d.department == "DfE"
	some c in d.columns
	c.name == "provider_id"
	not app.id in settings.provider_level_projects
}

# DfE has no blockers of its own: which gateways carry its data is in the register.
blockers := set()
