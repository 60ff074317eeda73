# Unit tests for DWP's rules. Run: trust policy test
package tests.departments.dwp

import rego.v1

import data.tests.fixtures as fx

condition := fx.column("dwp.pip_awards.health_condition_group", "dimension", ["group_by", "output"])

test_special_category_needs_an_approved_purpose if {
	q := fx.with_columns(fx.query(["dwp.pip_awards"]), [object.union(condition, {"flags": ["special_category"]})])
	d := fx.decide(fx.ana, "demo-disability-employment", q)
	fx.rules(d) == {"dwp.special_category"}
	some x in d.deny
	contains(x.remedy, "health_and_disability_research")
}

test_special_category_is_allowed_for_health_research if {
	q := fx.with_columns(fx.query(["dwp.pip_awards"]), [object.union(condition, {"flags": ["special_category"]})])
	fx.decide(fx.ana, "demo-health-research", q).allow
}

test_special_category_column_alone_is_enough if {
	# A flagged column in a dataset that is not flagged as a whole still needs the purpose.
	q := {
		"tables": [{"dataset": "dwp.pip_awards", "department": "DWP", "flags": []}],
		"columns": [object.union(condition, {"flags": ["special_category"]})],
		"aggregates": [fx.count_all], "joins": [], "aggregated_output": true,
	}
	fx.rules(fx.decide(fx.ana, "demo-disability-employment", q)) == {"dwp.special_category"}
}

test_opted_out_people_are_filtered_out if {
	d := fx.decide(fx.ana, "demo-employment-support", fx.query(["dwp.uc_claims"]))
	fx.filters(d, "dwp.uc_claims") == {"NOT opted_out"}
}

test_exempt_dataset_gets_no_opt_out_filter if {
	d := fx.decide(fx.ana, "demo-health-research", fx.query(["dwp.pip_awards"]))
	d.allow
	fx.filters(d, "dwp.pip_awards") == set()
}

test_dataset_with_no_opt_out_declaration_is_denied if {
	d := fx.decide(fx.ana, "demo-health-research", fx.query(["dwp.pip_awards"])) with data.departments.DWP.opt_out_exempt as {}
	fx.rules(d) == {"dwp.opt_out"}
}

test_date_of_birth_is_masked_to_a_year if {
	d := fx.decide(fx.ana, "demo-employment-support", fx.query(["dwp.uc_claims"]))
	fx.masks(d, "dwp.uc_claims") == {"date_of_birth": "CAST(date_trunc('year', date_of_birth) AS DATE)"}
}
