# Unit tests for DfE's rules. Run: trust policy test
package tests.departments.dfe

import rego.v1

import data.tests.fixtures as fx

provider := fx.column("dfe.learners.provider_id", "dimension", ["group_by", "output"])

test_gateway_naming_dfe_is_accepted if {
	fx.decide(fx.ana, "demo-employment-support", fx.query(["dfe.learners"])).allow
}

test_gateway_not_naming_dfe_is_denied if {
	d := fx.decide(fx.ana, "demo-skills-earnings", fx.query(["dfe.learners"]))
	fx.rules(d) == {"dfe.legal_gateway"}
	some x in d.deny
	contains(x.message, "Digital Economy Act 2017 s.64 (DWP, HMRC)")
}

test_gateway_spelt_out_is_accepted if {
	fx.decide(fx.ana, "demo-fe-providers", fx.query(["dfe.learners"])).allow
}

test_provider_level_needs_approval if {
	q := fx.with_columns(fx.query(["dfe.learners"]), [provider])
	fx.rules(fx.decide(fx.ana, "demo-employment-support", q)) == {"dfe.provider_level"}
}

test_provider_level_is_allowed_where_approved if {
	q := fx.with_columns(fx.query(["dfe.learners"]), [provider])
	fx.decide(fx.ana, "demo-fe-providers", q).allow
}

test_provider_in_a_filter_also_needs_approval if {
	q := fx.with_columns(fx.query(["dfe.learners"]), [object.union(provider, {"used_in": ["filter"]})])
	fx.rules(fx.decide(fx.ana, "demo-employment-support", q)) == {"dfe.provider_level"}
}
