# HMRC's rules, owned by HMRC's data controller.
package trust.departments.hmrc

import rego.v1

# Earnings may be linked to other data only through the person linkage key.
deny contains {"rule": "hmrc.linkage_only", "message": sprintf("HMRC data may be joined only on person_id or employer_id; the join %s = %s is not permitted.", [j.left, j.right])} if {
	some j in input.query.joins
	some side in [j.left, j.right]
	startswith(side, "hmrc.")
	not endswith(side, ".person_id")
	not endswith(side, ".employer_id")
}
