# DfE's rules, owned by DfE's data controller. Settings: data.departments.DfE.
package trust.departments.dfe

import rego.v1

import data.trust.lib

settings := data.departments.DfE

project := data.projects[input.project.id]

project_id := object.get(input, ["project", "id"], "(no project)")

gateway := object.get(project, "legal_gateway", "")

dfe_tables contains t if {
	some t in input.query.tables
	t.department == "DfE"
}

# -- Legal gateway ---------------------------------------------------------------------------------
# Learner data may be used only under a legal gateway that names DfE as a party.

# (Defaulted, so regopy works it out once per decision rather than once for each DfE dataset.)
default names_dfe := false

names_dfe if {
	lowered := lower(gateway)
	some name in settings.gateway_names
	contains(lowered, lower(name))
}

deny contains lib.denial(
	"dfe.legal_gateway",
	lib.text(["DfE learner data (", t.dataset, ") needs a legal gateway that names DfE; project ", project_id, "'s gateway is '", gateway, "'."]),
	"Ask DfE's data sharing team to confirm a gateway for the project and record it in the project's approval.",
) if {
	some t in dfe_tables
	not names_dfe
}

# -- Learning providers ----------------------------------------------------------------------------
# Providers are institutions that can be identified: any use of provider_id needs DfE's
# approval of provider-level analysis for the project.

deny contains lib.denial(
	"dfe.provider_level",
	lib.text([c.dataset, ".provider_id identifies learning providers, and project ", project_id, " is not approved for provider-level analysis."]),
	"Remove provider_id (use region or subject_area), or ask DfE to approve provider-level analysis for the project.",
) if {
	some c in input.query.columns
	some t in dfe_tables
	t.dataset == c.dataset
	c.column == "provider_id"
	not project_id in settings.provider_level_projects
}

# What this module does not contribute (each module answers all four; see policies/trust.rego).
row_filters := set()

column_masks := set()

disclosure := set()
