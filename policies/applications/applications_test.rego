# Unit tests for the trust's rules for applications. Run: trust policy test
package tests.applications

import rego.v1

import data.tests.applications.fixtures as fx

test_a_good_application_has_no_blockers_or_warnings if {
	a := fx.assess(fx.application)
	a.blockers == []
	a.warnings == []
}

test_a_purpose_not_in_the_controlled_list_is_blocked if {
	a := fx.assess(fx.changed({"purpose": "curiosity"}))
	fx.blockers(a) == {"applications.purpose_unknown"}
	contains(fx.only(a.blockers, "applications.purpose_unknown").message, "'curiosity' is not a purpose")
}

test_an_unknown_gateway_is_blocked_and_suitable_ones_suggested if {
	a := fx.assess(fx.changed({"legal_gateway": "dea-2017"}))
	fx.blockers(a) == {"applications.gateway_unknown"}
	f := fx.only(a.blockers, "applications.gateway_unknown")
	contains(f.message, "'dea-2017' is not a legal gateway in the register")
	contains(f.message, "dea-2017-s35-public-service-delivery or dea-2017-s64-research")
}

test_an_unknown_gateway_with_nothing_suitable_says_so if {
	a := fx.assess(fx.under("none", "debt", [fx.learners]))
	fx.blockers(a) == {"applications.gateway_unknown"}
	contains(fx.only(a.blockers, "applications.gateway_unknown").message, "No gateway in the register covers all of it")
}

test_a_gateway_that_does_not_cover_the_purpose_is_blocked if {
	a := fx.assess(fx.changed({"purpose": "debt"}))
	fx.blockers(a) == {"applications.gateway_purpose"}
	f := fx.only(a.blockers, "applications.gateway_purpose")
	f.message == "Digital Economy Act 2017 research power does not cover the purpose debt; it covers employment_support or health_and_disability_research or skills_research. Choose one of those purposes or another gateway."
}

test_research_gateways_need_an_accredited_researcher if {
	a := fx.assess(fx.changed({"applicant": {"name": "Ana Analyst", "organisation": "DWP", "roles": ["analyst"]}}))
	fx.blockers(a) == {"applications.accredited_researcher"}
	contains(fx.only(a.blockers, "applications.accredited_researcher").message, "Ana Analyst is not one")
}

test_a_direct_identifier_cannot_be_requested if {
	uc := object.union(fx.uc_claims, {"columns": array.concat(fx.uc_claims.columns, [fx.col("nino", "direct_identifier")])})
	a := fx.assess(fx.changed({"datasets": [uc]}))
	fx.blockers(a) == {"applications.direct_identifier"}
	f := fx.only(a.blockers, "applications.direct_identifier")
	startswith(f.message, "`nino` is a direct identifier and cannot be requested.")
	[f.department, f.dataset, f.column] == ["DWP", "dwp.uc_claims", "nino"]
}

test_a_column_without_a_reason_is_blocked if {
	uc := object.union(fx.uc_claims, {"columns": array.concat(fx.uc_claims.columns, [object.union(fx.col("tenure", "dimension"), {"reason": "  "})])})
	a := fx.assess(fx.changed({"datasets": [uc]}))
	fx.blockers(a) == {"applications.column_reason"}
	fx.only(a.blockers, "applications.column_reason").column == "tenure"
}

test_an_application_with_no_data_is_blocked if {
	a := fx.assess(fx.changed({"datasets": []}))
	fx.blockers(a) == {"applications.no_datasets"}
}

test_a_dataset_with_no_columns_is_blocked if {
	a := fx.assess(fx.changed({"datasets": [object.union(fx.uc_claims, {"columns": []})]}))
	fx.blockers(a) == {"applications.no_columns"}
	fx.only(a.blockers, "applications.no_columns").dataset == "dwp.uc_claims"
}

test_an_application_with_no_members_is_blocked if {
	a := fx.assess(fx.changed({"members": ["", " "]}))
	fx.blockers(a) == {"applications.no_members"}
}

test_an_application_with_no_title_is_blocked if {
	a := fx.assess(fx.changed({"title": " "}))
	fx.blockers(a) == {"applications.no_title"}
}

test_an_unknown_sponsor_is_blocked if {
	a := fx.assess(fx.changed({"sponsor": "Acme Ltd"}))
	fx.blockers(a) == {"applications.sponsor_unknown"}
}

test_a_missing_expiry_date_is_blocked if {
	a := fx.assess(fx.changed({"expires": ""}))
	fx.blockers(a) == {"applications.expiry_invalid"}
}

test_an_impossible_expiry_date_is_blocked if {
	a := fx.assess(fx.changed({"expires": "2027-02-29"}))
	fx.blockers(a) == {"applications.expiry_invalid"}
}

test_a_leap_day_is_a_date if {
	a := fx.assess(fx.changed({"expires": "2028-02-29"}))
	a.blockers == []
}

test_an_expiry_date_in_the_past_is_blocked if {
	a := fx.assess(fx.changed({"expires": "2026-05-31"}))
	fx.blockers(a) == {"applications.expired"}
}

test_an_expiry_beyond_the_gateways_limit_is_blocked if {
	a := fx.assess(fx.changed({"expires": "2029-06-02"}))
	fx.blockers(a) == {"applications.expiry_beyond_gateway"}
	contains(fx.only(a.blockers, "applications.expiry_beyond_gateway").message, "at most 3 years; choose an expiry date on or before 2029-06-01")
}

test_an_expiry_on_the_gateways_limit_is_allowed if {
	a := fx.assess(fx.changed({"expires": "2029-06-01"}))
	a.blockers == []
}

test_an_expiry_within_30_days_is_a_warning if {
	a := fx.assess(fx.changed({"expires": "2026-07-01"}))
	a.blockers == []
	fx.warnings(a) == {"applications.expiry_soon"}
}

test_a_gateway_that_requires_a_dpia_needs_its_reference if {
	a := fx.assess(fx.changed({"dpia": ""}))
	fx.blockers(a) == {"applications.dpia"}
	contains(fx.only(a.blockers, "applications.dpia").message, "Digital Economy Act 2017 research power requires one")
}

test_special_category_data_needs_a_dpia_whatever_the_gateway if {
	a := fx.assess(fx.changed({"dpia": "", "datasets": [fx.pip_awards]})) with data.gateways["dea-2017-s64-research"].requires_dpia as false
	fx.blockers(a) == {"applications.dpia", "applications.dwp_special_category"}
	contains(fx.only(a.blockers, "applications.dpia").message, "special category data (dwp.pip_awards)")
}

test_no_dpia_is_needed_without_special_category_data_when_the_gateway_needs_none if {
	app := object.union(fx.under("srsa-2007-s45a-statistics", "statistics", [fx.uc_claims]), {"dpia": ""})
	a := fx.assess(app)
	a.blockers == []
}

test_many_columns_from_one_dataset_is_a_warning if {
	names := ["sex", "age_band", "la_code", "region", "claim_start", "tenure", "household_type", "marital_status", "journey_channel", "award_amount", "housing_element", "child_element"]
	uc := object.union(fx.uc_claims, {"columns": array.concat([fx.col("person_id", "linkage_key")], [fx.col(n, "dimension") | some n in names])})
	a := fx.assess(fx.changed({"datasets": [uc]}))
	a.blockers == []
	fx.warnings(a) == {"applications.many_columns"}
	startswith(fx.only(a.warnings, "applications.many_columns").message, "13 columns are requested from dwp.uc_claims")
}

test_linkage_keys_from_two_departments_are_a_warning if {
	a := fx.assess(fx.changed({"datasets": [fx.uc_claims, fx.paye]}))
	a.blockers == []
	fx.warnings(a) == {"applications.linkage"}
	contains(fx.only(a.warnings, "applications.linkage").message, "will link DWP and HMRC data through person_id")
}

test_a_malformed_application_is_blocked_field_by_field if {
	a := fx.assess(fx.changed({"datasets": "dwp.uc_claims", "members": "ana"}))
	fx.blockers(a) == {"applications.malformed_input", "applications.no_datasets", "applications.no_members"}
	{f.message | some f in a.blockers; f.rule == "applications.malformed_input"} == {
		"The application is incomplete: datasets should be an array; this is a fault in the trust's service, so report it to the trust's administrators.",
		"The application is incomplete: members should be an array; this is a fault in the trust's service, so report it to the trust's administrators.",
	}
}

test_an_application_that_is_not_an_object_is_blocked if {
	a := fx.assess("app-0001")
	"applications.malformed_input" in fx.blockers(a)
	count([f | some f in a.blockers; f.rule == "applications.malformed_input"]) == 10
}

test_an_applicant_that_is_not_an_object_is_blocked if {
	a := fx.assess(fx.changed({"applicant": "Ana Analyst"}))
	fx.blockers(a) == {"applications.malformed_input", "applications.accredited_researcher"}
	contains(fx.only(a.blockers, "applications.accredited_researcher").message, "and the applicant is not one")
}
