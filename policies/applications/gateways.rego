# The register of legal gateways (policies/data/gateways.json) as functions of a gateway id, so the
# query-time policy can ask the same questions of a project approved under a gateway:
#   data.trust.applications.gateways.covers(gateway_id, dept, purpose, dataset_id)
# Owned by the trust; the register itself is reviewed by the departments' legal teams.
package trust.applications.gateways

import rego.v1

covers_department(id, dept) if dept in data.gateways[id].departments

covers_purpose(id, purpose) if purpose in data.gateways[id].purposes

# "data": "all" (every dataset of the departments it covers) or a list of dataset ids.
covers_dataset(id, dataset_id) if data.gateways[id].data == "all"

covers_dataset(id, dataset_id) if dataset_id in data.gateways[id].data

covers(id, dept, purpose, dataset_id) if {
	covers_department(id, dept)
	covers_purpose(id, purpose)
	covers_dataset(id, dataset_id)
}

# The gateways that cover a department's data for a purpose (for "choose ... instead").
for_department(dept, purpose) := {id |
	some id in object.keys(data.gateways)
	covers_department(id, dept)
	covers_purpose(id, purpose)
}

# What a gateway covers, for messages: "all data of the departments it covers" or the dataset ids.
scope_text(id) := "all data of the departments it covers" if {
	data.gateways[id].data == "all"
} else := concat(", ", sort(data.gateways[id].data)) if {
	count(data.gateways[id].data) > 0
} else := "no dataset in the catalogue yet"
