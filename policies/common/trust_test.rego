# Unit tests for the trust's common rules. Run: trust policy test
package tests.common

import rego.v1

import data.tests.fixtures as fx

test_member_using_approved_data_is_allowed if {
	d := fx.decide(fx.ana, "demo-employment-support", fx.query(["dwp.uc_claims"]))
	d.allow
	d.deny == set()
}

test_non_member_is_denied if {
	d := fx.decide(fx.bob, "demo-employment-support", fx.query(["dwp.uc_claims"]))
	not d.allow
	"trust.not_a_member" in fx.rules(d)
}

test_unknown_project_gives_one_plain_reason if {
	d := fx.decide(fx.ana, "demo-nope", fx.query(["dwp.uc_claims"]))
	fx.rules(d) == {"trust.unknown_project"}
}

test_expired_project_is_denied if {
	d := fx.decide(fx.ana, "demo-uc-pilot-2024", fx.query(["dwp.uc_claims"]))
	fx.rules(d) == {"trust.project_expired"}
}

test_project_is_usable_on_its_expiry_date_and_not_after if {
	q := fx.query(["dwp.uc_claims"])
	fx.decide_on(fx.ana, "demo-employment-support", q, "2027-03-31").allow
	not fx.decide_on(fx.ana, "demo-employment-support", q, "2027-04-01").allow
}

test_project_without_expiry_counts_as_expired if {
	ps := {"p-open": {"purpose": "x", "legal_gateway": "y", "datasets": ["dwp.uc_claims"], "members": ["ana"]}}
	d := fx.decide(fx.ana, "p-open", fx.query(["dwp.uc_claims"])) with data.projects as ps
	fx.rules(d) == {"trust.project_expired"}
}

test_unapproved_dataset_names_its_owner if {
	d := fx.decide(fx.bob, "demo-dwp-caseload", fx.query(["hmrc.paye_employments"]))
	fx.rules(d) == {"trust.dataset_not_approved"}
	some x in d.deny
	contains(x.remedy, "data owner (HMRC)")
}

test_forged_project_in_input_is_ignored if {
	q := fx.query(["hmrc.paye_employments"])
	forged := {"id": "demo-dwp-caseload", "datasets": ["hmrc.paye_employments"]}
	who := fx.bob
	d := data.trust.decision with input.identity as who
		with input.project as forged
		with input.query as q
		with input.context as {"date": "2026-06-01"}
	"trust.dataset_not_approved" in fx.rules(d)
}

test_columns_outside_the_approval_are_denied if {
	q := fx.with_columns(fx.query(["dwp.uc_claims"]), [fx.column("dwp.uc_claims.opted_out", "dimension", ["group_by", "output"])])
	d := fx.decide(fx.bob, "demo-dwp-caseload", q)
	fx.rules(d) == {"trust.column_not_approved"}
}

test_direct_identifier_is_denied if {
	q := fx.with_columns(fx.query(["dwp.uc_claims"]), [fx.column("dwp.uc_claims.nino", "direct_identifier", ["group_by"])])
	"trust.direct_identifier" in fx.rules(fx.decide(fx.ana, "demo-employment-support", q))
}

test_row_level_output_is_denied if {
	q := object.union(fx.query(["dwp.uc_claims"]), {"aggregated_output": false})
	fx.rules(fx.decide(fx.ana, "demo-employment-support", q)) == {"trust.aggregated_output"}
}

median := [{"function": "median", "dataset": "dfe.learners", "column": "qualification_level", "distinct": false}]

test_median_needs_the_projects_approval if {
	q := fx.with_aggregates(fx.query(["dfe.learners"]), median)
	fx.rules(fx.decide(fx.ana, "demo-employment-support", q)) == {"trust.restricted_aggregate"}
}

test_median_is_allowed_where_approved if {
	q := fx.with_aggregates(fx.query(["dfe.learners"]), median)
	fx.decide(fx.ana, "demo-fe-providers", q).allow
}

test_output_checker_cannot_query if {
	d := fx.decide(fx.carol, "demo-employment-support", fx.query(["dwp.uc_claims"]))
	"trust.analyst_role" in fx.rules(d)
}

test_unregistered_organisation_is_denied if {
	who := {"user": "ana", "roles": ["analyst"], "organisation": "Some Borough Council"}
	"trust.unknown_organisation" in fx.rules(fx.decide(who, "demo-employment-support", fx.query(["dwp.uc_claims"])))
}

test_incomplete_input_is_denied if {
	who := fx.ana
	d := data.trust.decision with input.identity as who
		with input.project as {"id": "demo-employment-support"}
		with input.query as {"aggregated_output": true}
		with input.context as {"date": "2026-06-01"}
	not d.allow
	"trust.malformed_input" in fx.rules(d)
}

test_missing_date_is_denied if {
	who := fx.ana
	q := fx.query(["dwp.uc_claims"])
	d := data.trust.decision with input.identity as who with input.project as {"id": "demo-employment-support"} with input.query as q
	"trust.malformed_input" in fx.rules(d)
}

test_strategic_authority_sees_only_its_areas if {
	d := fx.decide(fx.bob, "demo-dwp-caseload", fx.query(["dwp.uc_claims"]))
	d.allow
	area := "la_code IN ('E08000001', 'E08000002', 'E08000003', 'E08000004', 'E08000005', 'E08000006', 'E08000007', 'E08000008', 'E08000009', 'E08000010')"
	fx.filters(d, "dwp.uc_claims") == {area, "NOT opted_out"}
}

test_council_sees_only_its_district if {
	who := {"user": "ana", "roles": ["analyst"], "organisation": "Manchester City Council"}
	d := fx.decide(who, "demo-employment-support", fx.query(["dfe.learners"]))
	fx.filters(d, "dfe.learners") == {"la_code IN ('E08000003')"}
}

test_department_analysts_are_not_area_filtered if {
	d := fx.decide(fx.ana, "demo-employment-support", fx.query(["dwp.uc_claims"]))
	fx.filters(d, "dwp.uc_claims") == {"NOT opted_out"}
}

test_dataset_without_area_column_is_denied_to_local_analysts if {
	ps := {"p-test": {"purpose": "x", "legal_gateway": "y", "datasets": ["hmrc.paye_employments"], "members": ["bob"], "expires": "2030-01-01"}}
	d := fx.decide(fx.bob, "p-test", fx.query(["hmrc.paye_employments"])) with data.projects as ps
	fx.rules(d) == {"trust.area_not_restrictable"}
}

test_malformed_area_code_is_refused_not_used if {
	orgs := {"Greater Manchester Combined Authority": {"type": "strategic_authority", "areas": ["E08000001') OR ('1'='1"]}}
	d := fx.decide(fx.bob, "demo-dwp-caseload", fx.query(["dwp.uc_claims"])) with data.organisations as orgs
	not d.allow
	"trust.areas_invalid" in fx.rules(d)
	"trust.own_areas" in fx.rules(d)
	fx.filters(d, "dwp.uc_claims") == {"NOT opted_out"}
}

test_local_organisation_without_areas_is_denied if {
	orgs := {"Greater Manchester Combined Authority": {"type": "strategic_authority"}}
	d := fx.decide(fx.bob, "demo-dwp-caseload", fx.query(["dwp.uc_claims"])) with data.organisations as orgs
	"trust.areas_not_configured" in fx.rules(d)
}

test_every_denial_says_what_would_help if {
	d := fx.decide(fx.carol, "demo-uc-pilot-2024", fx.query(["hmrc.paye_employments"]))
	count(d.deny) >= 3
	every x in d.deny {
		count(x.remedy) > 0
		endswith(x.message, x.remedy)
	}
}

# An agreement's conditions (trust.service.agreements): a data owner's row filter on their dataset, and their
# stricter thresholds for queries that read their department's data, and for no other query.
agreement := {"p-agreed": {
	"purpose": "employment_support", "legal_gateway": "dea-2017-s64-research", "expires": "2027-09-30",
	"datasets": ["dwp.uc_claims", "hmrc.paye_employments"], "members": ["ana"],
	"conditions": {
		"row_filters": [{"dataset": "dwp.uc_claims", "expression": "region = 'E12000002'"}],
		"disclosure": {"HMRC": {"min_units": 20}},
	},
}}

test_an_agreements_row_filter_applies_to_its_dataset if {
	ps := agreement
	d := fx.decide(fx.ana, "p-agreed", fx.query(["dwp.uc_claims"])) with data.projects as ps
	d.allow
	{"dataset": "dwp.uc_claims", "expression": "region = 'E12000002'", "rule": "trust.agreement_condition"} in d.obligations.row_filters
}

test_an_agreements_thresholds_apply_only_with_that_departments_data if {
	ps := agreement
	hmrc := fx.decide(fx.ana, "p-agreed", fx.query(["hmrc.paye_employments"])) with data.projects as ps
	hmrc.obligations.disclosure.min_units == 20
	"trust.agreement_condition.HMRC" in hmrc.disclosure_rules
	dwp := fx.decide(fx.ana, "p-agreed", fx.query(["dwp.uc_claims"])) with data.projects as ps
	dwp.obligations.disclosure.min_units == 10
	count([f | some f in dwp.obligations.row_filters; f.rule == "trust.agreement_condition"]) == 1
}
