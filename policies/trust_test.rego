# Unit tests for the composed decision (policies/trust.rego). Run: trust policy test
package tests.trust

import rego.v1

import data.tests.fixtures as fx

test_default_disclosure if {
	d := fx.decide(fx.ana, "demo-employment-support", fx.query(["dwp.uc_claims"]))
	d.obligations.disclosure == {
		"min_units": 10, "dominance": {"n": 2, "k": 0.9}, "p_percent": 0.1, "rounding_base": 0,
		"perturbation": {
			"method": "noise", "max_deviation": 10, "variance": 2.0, "top_share": 0.2, "cell_share": 0.5,
			"magnitude_variance": 0.5, "small_values": 0,
		},
	}
}

test_noise_by_default_and_the_most_noise_wins if {
	d := fx.decide(fx.ana, "demo-employment-support", fx.query(["dwp.uc_claims", "hmrc.paye_employments"]))
	d.obligations.disclosure.perturbation.method == "noise"
	d.obligations.disclosure.perturbation.max_deviation == 10
}

test_a_department_may_require_suppression_instead if {
	settings := object.union(data.disclosure, {"departments": {"HMRC": {"perturbation": {"method": "suppress"}}}})
	d := fx.decide(fx.ana, "demo-employment-support", fx.query(["dwp.uc_claims", "hmrc.paye_employments"])) with data.disclosure as settings
	d.obligations.disclosure.perturbation.method == "suppress"
	dwp_only := fx.decide(fx.ana, "demo-employment-support", fx.query(["dwp.uc_claims"])) with data.disclosure as settings
	dwp_only.obligations.disclosure.perturbation.method == "noise"
}

test_a_department_may_keep_small_counts_off_the_page if {
	settings := object.union(data.disclosure, {"departments": {"HMRC": {"perturbation": {"small_values": 4}}}})
	d := fx.decide(fx.ana, "demo-employment-support", fx.query(["dwp.uc_claims", "hmrc.paye_employments"])) with data.disclosure as settings
	d.obligations.disclosure.perturbation.small_values == 4
	d.obligations.disclosure.perturbation.max_deviation == 10
	dwp_only := fx.decide(fx.ana, "demo-employment-support", fx.query(["dwp.uc_claims"])) with data.disclosure as settings
	dwp_only.obligations.disclosure.perturbation.small_values == 0
}

test_strictest_dominance_across_departments if {
	d := fx.decide(fx.ana, "demo-employment-support", fx.query(["dwp.uc_claims", "desnz.businesses"]))
	d.obligations.disclosure.dominance == {"n": 2, "k": 0.85}
}

test_dataset_threshold_applies_to_queries_touching_it if {
	d := fx.decide(fx.ana, "demo-health-research", fx.query(["dwp.pip_awards", "dwp.uc_claims"]))
	d.allow
	d.obligations.disclosure.min_units == 20
}

test_fired_names_each_obligation_rule if {
	d := fx.decide(fx.ana, "demo-employment-support", fx.query(["dwp.uc_claims", "hmrc.paye_employments"]))
	fired := fx.fired(d)
	{"dwp.opt_out", "dwp.date_of_birth_year", "hmrc.top_code", "disclosure.defaults", "disclosure.departments.HMRC"} == fired
}

test_one_department_denial_refuses_the_whole_query if {
	d := fx.decide(fx.ana, "demo-skills-earnings", fx.query(["dfe.learners", "hmrc.paye_employments"]))
	not d.allow
	fx.rules(d) == {"dfe.legal_gateway"}
}

# The trust's embedded evaluator reads partial_decision and works the thresholds out itself
# (trust/policy/thresholds.py); everything else in it is the decision's own.
test_the_partial_decision_is_the_decision_but_for_its_thresholds if {
	who := fx.ana
	today := fx.today
	q := fx.with_joins(fx.query(["hmrc.paye_employments", "desnz.businesses"]), [{"left": "hmrc.paye_employments.employer_id", "right": "desnz.businesses.employer_id", "kind": "inner"}])
	d := data.trust.decision with input.identity as who
		with input.project as {"id": "demo-employment-support"}
		with input.query as q
		with input.context as {"date": today}
	p := data.trust.partial_decision with input.identity as who
		with input.project as {"id": "demo-employment-support"}
		with input.query as q
		with input.context as {"date": today}
	p.allow == d.allow
	p.deny == d.deny
	p.obligations == object.remove(d.obligations, ["disclosure"])
	p.disclosure_rules == d.disclosure_rules
	{c.rule | some c in p.contributions} == {"hmrc.employer_level"}
	"disclosure.departments.DESNZ" in p.disclosure_rules
}
