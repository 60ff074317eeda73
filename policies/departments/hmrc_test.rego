# Unit tests for HMRC's rules. Run: trust policy test
package tests.departments.hmrc

import rego.v1

import data.tests.fixtures as fx

linked(left, right) := fx.with_joins(fx.query(["dwp.uc_claims", "hmrc.paye_employments"]), [{"left": left, "right": right, "kind": "inner"}])

test_join_on_the_linkage_key_is_allowed if {
	fx.decide(fx.ana, "demo-employment-support", linked("dwp.uc_claims.person_id", "hmrc.paye_employments.person_id")).allow
}

test_join_on_anything_else_is_denied if {
	d := fx.decide(fx.ana, "demo-employment-support", linked("dwp.uc_claims.claim_start", "hmrc.paye_employments.tax_month"))
	fx.rules(d) == {"hmrc.linkage_only"}
	some x in d.deny
	contains(x.remedy, "person_id")
}

test_earnings_are_top_coded if {
	d := fx.decide(fx.ana, "demo-employment-support", fx.query(["hmrc.paye_employments"]))
	fx.masks(d, "hmrc.paye_employments") == {
		"gross_pay": "CASE WHEN gross_pay > 20000 THEN 20000.0 ELSE gross_pay END",
		"tax_paid": "CASE WHEN tax_paid > 8000 THEN 8000.0 ELSE tax_paid END",
	}
}

test_a_cap_that_is_not_a_number_refuses_the_query if {
	caps := {"hmrc.paye_employments": {"gross_pay": "lots"}}
	d := fx.decide(fx.ana, "demo-employment-support", fx.query(["hmrc.paye_employments"])) with data.departments.HMRC.top_code as caps
	fx.rules(d) == {"hmrc.top_code"}
}

test_employer_level_raises_the_threshold if {
	q := fx.with_joins(fx.query(["hmrc.paye_employments", "desnz.businesses"]), [{"left": "hmrc.paye_employments.employer_id", "right": "desnz.businesses.employer_id", "kind": "inner"}])
	d := fx.decide(fx.ana, "demo-employment-support", q)
	d.allow
	d.obligations.disclosure.min_units == 20
	d.obligations.disclosure.dominance.k == 0.8
	"hmrc.employer_level" in fx.fired(d)
}

test_person_level_keeps_the_default_threshold if {
	d := fx.decide(fx.ana, "demo-employment-support", linked("dwp.uc_claims.person_id", "hmrc.paye_employments.person_id"))
	d.obligations.disclosure.min_units == 10
}
