# Unit tests for DESNZ's rules. Run: trust policy test
package tests.departments.desnz

import rego.v1

import data.tests.fixtures as fx

sic := fx.column("desnz.businesses.sic2007", "dimension", ["group_by", "output"])

section := fx.column("desnz.businesses.sic_section", "dimension", ["group_by", "output"])

la := fx.column("desnz.businesses.la_code", "dimension", ["group_by", "output"])

test_fine_industry_by_area_is_denied if {
	q := fx.with_columns(fx.query(["desnz.businesses"]), [sic, la])
	fx.rules(fx.decide(fx.ana, "demo-employment-support", q)) == {"desnz.industry_by_area"}
}

test_industry_section_by_area_is_allowed if {
	q := fx.with_columns(fx.query(["desnz.businesses"]), [section, la])
	fx.decide(fx.ana, "demo-employment-support", q).allow
}

test_filtering_one_and_grouping_the_other_is_allowed if {
	q := fx.with_columns(fx.query(["desnz.businesses"]), [sic, object.union(la, {"used_in": ["filter"]})])
	fx.decide(fx.ana, "demo-employment-support", q).allow
}

test_turnover_totals_get_a_stricter_p_percent if {
	turnover := [{"function": "sum", "dataset": "desnz.businesses", "column": "turnover", "distinct": false}]
	d := fx.decide(fx.ana, "demo-employment-support", fx.with_aggregates(fx.query(["desnz.businesses"]), turnover))
	d.obligations.disclosure.p_percent == 0.15
	d.obligations.disclosure.dominance.k == 0.85
}
