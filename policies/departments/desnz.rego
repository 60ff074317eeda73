# DESNZ's rules, owned by DESNZ's data controller.
package trust.departments.desnz

import rego.v1

# Business data is published only for businesses' own use; no extra denials yet. DESNZ sets
# stricter disclosure thresholds in policies/data/disclosure.json (businesses are few and large).
deny := set()
