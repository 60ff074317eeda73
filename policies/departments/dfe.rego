# DfE's rules, owned by DfE's data controller.
package trust.departments.dfe

import rego.v1

# Learner data may be used only under a legal gateway that names DfE.
deny contains {"rule": "dfe.legal_gateway", "message": sprintf("DfE learner data needs a legal gateway that names DfE; project %s's gateway is %q. Ask DfE to confirm a gateway for this project.", [input.project.id, input.project.legal_gateway])} if {
	some t in input.query.tables
	t.department == "DfE"
	not contains(lower(input.project.legal_gateway), "dfe")
}
