# Unit tests for the gateway rules and HMRC's rules for applications that ask for HMRC data.
package tests.applications.hmrc_rules

import rego.v1

import data.tests.applications.fixtures as fx

test_hmrc_data_under_hmrcs_gateway_has_no_blockers if {
	a := fx.assess(fx.under("crca-2005-s18-hmrc", "operational_research", [fx.paye]))
	a.blockers == []
	a.warnings == []
}

test_hmrc_data_under_the_research_power_has_no_blockers if {
	a := fx.assess(fx.under("dea-2017-s64-research", "employment_support", [fx.paye]))
	a.blockers == []
}

test_hmrc_data_needs_a_gateway_that_covers_hmrc if {
	a := fx.assess(fx.under("ssaa-1992-dwp-internal", "operational_research", [fx.paye]))
	fx.blockers(a) == {"applications.gateway_department"}
	f := fx.only(a.blockers, "applications.gateway_department")
	f.message == "HMRC data needs a gateway that covers HMRC for this purpose; DWP's own use of social security information does not. Gateways that do: crca-2005-s18-hmrc."
	f.department == "HMRC"
}

test_hmrc_data_for_a_purpose_no_gateway_covers_says_so if {
	a := fx.assess(fx.under("ssaa-1992-dwp-internal", "skills_research", [fx.paye]))
	fx.blockers(a) == {"applications.gateway_department", "applications.gateway_purpose"}
	contains(fx.only(a.blockers, "applications.gateway_department").message, "Gateways that do: dea-2017-s64-research.")
}

test_hmrc_gateway_without_the_purpose_is_blocked if {
	a := fx.assess(fx.under("crca-2005-s18-hmrc", "employment_support", [fx.paye]))
	fx.blockers(a) == {"applications.gateway_purpose"}
}

test_hmrc_data_outside_the_gateways_scope_is_blocked if {
	a := fx.assess(fx.under("crca-2005-s18-hmrc", "operational_research", [fx.paye])) with data.gateways["crca-2005-s18-hmrc"].data as ["hmrc.vat_returns"]
	fx.blockers(a) == {"applications.gateway_data"}
}

test_a_gateway_listing_hmrc_under_other_legislation_is_blocked if {
	a := fx.assess(fx.under("ssaa-1992-dwp-internal", "operational_research", [fx.paye])) with data.gateways["ssaa-1992-dwp-internal"].departments as ["DWP", "HMRC"]
	fx.blockers(a) == {"applications.hmrc_gateway"}
	contains(fx.only(a.blockers, "applications.hmrc_gateway").message, "cites Social Security Administration Act 1992")
}

test_top_coded_earnings_are_a_warning if {
	paye := object.union(fx.paye, {"columns": array.concat(fx.paye.columns, [fx.col("gross_pay", "measure")])})
	a := fx.assess(fx.under("crca-2005-s18-hmrc", "operational_research", [paye]))
	a.blockers == []
	fx.warnings(a) == {"applications.hmrc_top_code"}
	fx.only(a.warnings, "applications.hmrc_top_code").message == "`gross_pay` from hmrc.paye_employments is top-coded: monthly amounts above 20000 count as 20000."
}

test_earnings_linked_to_employers_are_a_warning if {
	paye := object.union(fx.paye, {"columns": array.concat(fx.paye.columns, [fx.col("employer_id", "linkage_key")])})
	a := fx.assess(fx.changed({"datasets": [paye, fx.businesses]}))
	a.blockers == []
	fx.warnings(a) == {"applications.hmrc_employer_level", "applications.linkage", "applications.desnz_business_level"}
	contains(fx.only(a.warnings, "applications.hmrc_employer_level").message, "at least 20 units")
}

test_hmrc_data_with_other_data_but_no_linkage_key_is_a_warning if {
	paye := object.union(fx.paye, {"columns": [fx.col("tax_year", "dimension")]})
	a := fx.assess(fx.changed({"datasets": [fx.uc_claims, paye]}))
	a.blockers == []
	fx.warnings(a) == {"applications.hmrc_linkage_key"}
}
