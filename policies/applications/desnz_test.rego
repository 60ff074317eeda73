# Unit tests for the gateway rules and DESNZ's rules for applications that ask for DESNZ data.
package tests.applications.desnz_rules

import rego.v1

import data.tests.applications.fixtures as fx

test_desnz_data_under_desnzs_gateway_has_no_blockers if {
	a := fx.assess(fx.under("sbee-2015-desnz", "employment_support", [fx.businesses]))
	a.blockers == []
	fx.warnings(a) == {"applications.desnz_business_level"}
	fx.only(a.warnings, "applications.desnz_business_level").dataset == "desnz.businesses"
}

test_desnz_data_needs_a_gateway_that_covers_desnz if {
	a := fx.assess(fx.under("esa-2008-s87-dfe", "statistics", [fx.businesses]))
	fx.blockers(a) == {"applications.gateway_department"}
	f := fx.only(a.blockers, "applications.gateway_department")
	startswith(f.message, "DESNZ data needs a gateway that covers DESNZ for this purpose; Education and Skills Act 2008 data sharing with DfE does not.")
	f.department == "DESNZ"
}

test_desnz_gateway_without_the_purpose_is_blocked if {
	a := fx.assess(fx.under("sbee-2015-desnz", "fraud_and_error", [fx.businesses]))
	fx.blockers(a) == {"applications.gateway_purpose"}
}

test_desnz_data_outside_the_gateways_scope_is_blocked if {
	a := fx.assess(fx.under("sbee-2015-desnz", "employment_support", [fx.businesses])) with data.gateways["sbee-2015-desnz"].data as []
	fx.blockers(a) == {"applications.gateway_data"}
}

test_business_data_needs_no_dpia_under_its_gateway if {
	app := object.union(fx.under("sbee-2015-desnz", "employment_support", [fx.businesses]), {"dpia": ""})
	a := fx.assess(app)
	a.blockers == []
}

test_fine_industry_with_fine_area_is_a_warning if {
	b := object.union(fx.businesses, {"columns": array.concat(fx.businesses.columns, [fx.col("sic2007", "dimension"), fx.col("la_code", "dimension")])})
	a := fx.assess(fx.under("sbee-2015-desnz", "employment_support", [b]))
	a.blockers == []
	fx.warnings(a) == {"applications.desnz_business_level", "applications.desnz_industry_by_area"}
	contains(fx.only(a.warnings, "applications.desnz_industry_by_area").message, "`sic2007` and `la_code`")
}
