# Fixtures for the policy's unit tests (`trust policy test`): people, tables and a decide()
# helper that sets the input one part at a time. Loaded only with the tests.
#
# regopy 1.5.2: write `with input.<part> as <local variable or literal>`, never
# `with input as {...}` or `with input.<part> as some_rule` (both mis-evaluate there), and make
# one decision per test when the decisions differ in project or identity (regopy keeps a rule's
# value across `with` scopes and reports a conflict).
package tests.fixtures

import rego.v1

today := "2026-06-01"

ana := {"user": "ana", "roles": ["analyst"], "organisation": "DWP"}

bob := {"user": "bob", "roles": ["analyst"], "organisation": "Greater Manchester Combined Authority"}

carol := {"user": "carol", "roles": ["output_checker"], "organisation": "ONS"}

departments := {"dwp": "DWP", "hmrc": "HMRC", "dfe": "DfE", "desnz": "DESNZ"}

flags := {"dwp.pip_awards": ["special_category"]}

table(id) := {"dataset": id, "department": departments[split(id, ".")[0]], "flags": object.get(flags, id, [])}

column(id, role, used_in) := {
	"dataset": concat(".", array.slice(split(id, "."), 0, 2)),
	"column": split(id, ".")[2],
	"role": role,
	"used_in": used_in,
	"flags": [],
}

count_all := {"function": "count", "dataset": null, "column": null, "distinct": false}

# A count(*) over the given datasets, grouped by nothing.
query(ids) := {
	"tables": [table(id) | some id in ids],
	"columns": [],
	"aggregates": [count_all],
	"joins": [],
	"aggregated_output": true,
}

with_columns(q, columns) := object.union(q, {"columns": columns})

with_aggregates(q, aggregates) := object.union(q, {"aggregates": aggregates})

with_joins(q, joins) := object.union(q, {"joins": joins})

decide_on(identity, project, q, date) := d if {
	d := data.trust.decision with input.identity as identity
		with input.project as {"id": project}
		with input.query as q
		with input.context as {"date": date}
}

decide(identity, project, q) := decide_on(identity, project, q, today)

rules(d) := {x.rule | some x in d.deny}

# Every rule that shaped a decision: denials, obligations and disclosure sources (as the trust lists them).
fired(d) := (({x.rule | some x in d.deny} | {f.rule | some f in d.obligations.row_filters}) | {c.rule | some c in d.obligations.column_masks}) | {r | some r in d.disclosure_rules}

filters(d, dataset) := {f.expression | some f in d.obligations.row_filters; f.dataset == dataset}

masks(d, dataset) := {m.column: m.expression | some m in d.obligations.column_masks; m.dataset == dataset}
