# Unit tests for the gateway rules and DfE's rules for applications that ask for DfE data.
package tests.applications.dfe_rules

import rego.v1

import data.tests.applications.fixtures as fx

test_dfe_data_under_dfes_gateway_has_no_blockers if {
	a := fx.assess(fx.under("esa-2008-s87-dfe", "skills_research", [fx.learners]))
	a.blockers == []
	a.warnings == []
}

test_dfe_data_needs_a_gateway_that_covers_dfe if {
	a := fx.assess(fx.under("sbee-2015-desnz", "statistics", [fx.learners]))
	fx.blockers(a) == {"applications.gateway_department"}
	f := fx.only(a.blockers, "applications.gateway_department")
	startswith(f.message, "DfE data needs a gateway that covers DfE for this purpose; Small Business, Enterprise and Employment Act 2015 business information does not.")
	contains(f.message, "ea-1996-s537a-pupils or esa-2008-s87-dfe or srsa-2007-s45a-statistics")
}

test_dfe_gateway_without_the_purpose_is_blocked if {
	a := fx.assess(fx.under("esa-2008-s87-dfe", "employment_support", [fx.learners]))
	fx.blockers(a) == {"applications.gateway_purpose"}
}

test_learner_data_is_outside_the_pupil_gateway if {
	a := fx.assess(fx.under("ea-1996-s537a-pupils", "skills_research", [fx.learners]))
	fx.blockers(a) == {"applications.gateway_data"}
	contains(fx.only(a.blockers, "applications.gateway_data").message, "(no dataset in the catalogue yet)")
}

test_provider_level_analysis_is_a_warning if {
	learners := object.union(fx.learners, {"columns": array.concat(fx.learners.columns, [fx.col("provider_id", "dimension")])})
	a := fx.assess(fx.under("esa-2008-s87-dfe", "skills_research", [learners]))
	a.blockers == []
	fx.warnings(a) == {"applications.dfe_provider_level"}
}

test_provider_level_projects_are_not_warned if {
	learners := object.union(fx.learners, {"columns": array.concat(fx.learners.columns, [fx.col("provider_id", "dimension")])})
	app := object.union(fx.under("esa-2008-s87-dfe", "skills_research", [learners]), {"id": "demo-fe-providers"})
	a := fx.assess(app)
	a.warnings == []
}

test_dfe_data_for_a_purpose_no_gateway_covers_says_so if {
	a := fx.assess(fx.under("ssaa-1992-dwp-internal", "debt", [fx.learners]))
	fx.blockers(a) == {"applications.gateway_department", "applications.gateway_purpose"}
	contains(fx.only(a.blockers, "applications.gateway_department").message, "No gateway in the register covers DfE for this purpose; ask DfE's data sharing team.")
}
