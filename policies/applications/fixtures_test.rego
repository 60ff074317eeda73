# Fixtures for the tests of the rules for applications (`trust policy test`): datasets as the service
# sends them (each column with its catalogue role and a reason), a good application, and assess().
#
# regopy 1.5.2: one assessment per test, and the input set as one part (`with input.application as a`).
package tests.applications.fixtures

import rego.v1

today := "2026-06-01"

col(name, role) := {"name": name, "role": role, "flags": [], "reason": "Needed for the project's tables."}

flagged(column) := object.union(column, {"flags": ["special_category"]})

dataset(id, department, columns) := {"id": id, "department": department, "flags": [], "columns": columns}

uc_claims := dataset("dwp.uc_claims", "DWP", [
	col("person_id", "linkage_key"),
	col("sex", "dimension"),
	col("age_band", "dimension"),
	col("region", "dimension"),
])

pip_awards := {
	"id": "dwp.pip_awards",
	"department": "DWP",
	"flags": ["special_category"],
	"columns": [col("person_id", "linkage_key"), flagged(col("health_condition_group", "dimension"))],
}

paye := dataset("hmrc.paye_employments", "HMRC", [
	col("person_id", "linkage_key"),
	col("tax_year", "dimension"),
	col("pay_frequency", "dimension"),
])

learners := dataset("dfe.learners", "DfE", [
	col("person_id", "linkage_key"),
	col("qualification_level", "dimension"),
	col("achieved", "dimension"),
])

businesses := dataset("desnz.businesses", "DESNZ", [
	col("employer_id", "linkage_key"),
	col("sic_section", "dimension"),
	col("size_band", "dimension"),
])

# DWP data for employment support research, under the Digital Economy Act research power.
application := {
	"id": "app-0001",
	"title": "Employment support for Universal Credit claimants",
	"applicant": {"name": "Ana Analyst", "organisation": "DWP", "roles": ["analyst", "accredited_researcher"]},
	"sponsor": "DWP",
	"purpose": "employment_support",
	"legal_gateway": "dea-2017-s64-research",
	"datasets": [uc_claims],
	"members": ["ana"],
	"outputs": "Employment rates by region and age band.",
	"expires": "2027-03-31",
	"dpia": "DPIA-2026-014",
	"today": today,
}

# The good application with some parts replaced.
changed(changes) := object.union(application, changes)

# The application for one department's data, under a gateway and for a purpose.
under(gateway, purpose, datasets) := changed({"legal_gateway": gateway, "purpose": purpose, "datasets": datasets})

assess(a) := result if {
	result := data.trust.applications.assessment with input.application as a
}

blockers(result) := {f.rule | some f in result.blockers}

warnings(result) := {f.rule | some f in result.warnings}

# The one finding of a rule (tests check its message and what it is about).
only(findings, rule) := f if {
	matching := [x | some x in findings; x.rule == rule]
	count(matching) == 1
	f := matching[0]
}
