# Unit tests for the gateway rules and DWP's rules for applications that ask for DWP data.
package tests.applications.dwp_rules

import rego.v1

import data.tests.applications.fixtures as fx

test_dwp_data_under_dwps_own_gateway_has_no_blockers if {
	a := fx.assess(fx.under("ssaa-1992-dwp-internal", "operational_research", [fx.uc_claims]))
	a.blockers == []
}

test_dwp_data_needs_a_gateway_that_covers_dwp if {
	a := fx.assess(fx.under("crca-2005-s18-hmrc", "operational_research", [fx.uc_claims]))
	fx.blockers(a) == {"applications.gateway_department"}
	f := fx.only(a.blockers, "applications.gateway_department")
	f.message == "DWP data needs a gateway that covers DWP for this purpose; HMRC disclosure for its own functions does not. Gateways that do: ssaa-1992-dwp-internal."
	f.department == "DWP"
}

test_dwp_gateway_without_the_purpose_is_blocked if {
	a := fx.assess(fx.under("ssaa-1992-dwp-internal", "debt", [fx.uc_claims]))
	fx.blockers(a) == {"applications.gateway_purpose"}
}

test_dwp_data_outside_the_gateways_scope_is_blocked if {
	pip := object.union(fx.pip_awards, {"flags": [], "columns": [fx.col("person_id", "linkage_key"), fx.col("mobility_award", "dimension")]})
	a := fx.assess(fx.under("wra-2012-s131-local-authorities", "employment_support", [pip]))
	fx.blockers(a) == {"applications.gateway_data"}
	f := fx.only(a.blockers, "applications.gateway_data")
	f.message == "dwp.pip_awards is outside what Welfare Reform Act 2012 information sharing with local authorities covers (dwp.uc_claims); remove it or choose a gateway that covers it."
	[f.department, f.dataset] == ["DWP", "dwp.pip_awards"]
}

test_special_category_data_needs_a_purpose_dwp_allows if {
	a := fx.assess(fx.changed({"datasets": [fx.pip_awards]}))
	fx.blockers(a) == {"applications.dwp_special_category"}
	f := fx.only(a.blockers, "applications.dwp_special_category")
	contains(f.message, "dwp.pip_awards is special category data (health), and the purpose employment_support is not one DWP allows")
	contains(f.message, "choose health_and_disability_research")
	[f.dataset, f.column] == ["dwp.pip_awards", null]
}

test_special_category_data_is_allowed_for_health_research if {
	a := fx.assess(fx.under("dea-2017-s64-research", "health_and_disability_research", [fx.pip_awards]))
	a.blockers == []
}

test_a_special_category_column_alone_needs_the_purpose if {
	uc := object.union(fx.uc_claims, {"columns": array.concat(fx.uc_claims.columns, [fx.flagged(fx.col("disability_flag", "dimension"))])})
	a := fx.assess(fx.changed({"datasets": [uc]}))
	fx.blockers(a) == {"applications.dwp_special_category"}
	fx.only(a.blockers, "applications.dwp_special_category").column == "disability_flag"
}

test_special_category_purposes_come_from_dwps_settings if {
	a := fx.assess(fx.changed({"datasets": [fx.pip_awards]})) with data.departments.DWP.special_category_purposes as ["employment_support"]
	a.blockers == []
}

test_date_of_birth_is_a_warning if {
	uc := object.union(fx.uc_claims, {"columns": array.concat(fx.uc_claims.columns, [fx.col("date_of_birth", "dimension")])})
	a := fx.assess(fx.changed({"datasets": [uc]}))
	a.blockers == []
	fx.warnings(a) == {"applications.dwp_date_of_birth"}
}
