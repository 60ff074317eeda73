# The application being assessed (input.application), read once with defaults, and the finding every
# rule returns. Owned by the trust. The rules are in applications.rego (the trust's) and in
# <department>.rego (each department's); docs/policies.md, "Rules for applications", has the input.
#
# Every part has a default, so a finding's message never depends on a value that may be missing (a
# rule whose head cannot be built does not fire, and a blocker would silently disappear).
package trust.applications.application

import rego.v1

import data.trust.lib

doc := input.application if {
	type_name(input.application) == "object"
} else := {}

# A string field, or the fallback when it is missing or not a string.
text(obj, key, fallback) := obj[key] if {
	type_name(obj[key]) == "string"
} else := fallback

list(value) := value if {
	type_name(value) == "array"
} else := []

id := text(doc, "id", "(no id)")

title := trim_space(text(doc, "title", ""))

purpose := text(doc, "purpose", "")

gateway_id := text(doc, "legal_gateway", "")

expires := text(doc, "expires", "")

today := text(doc, "today", "")

dpia := trim_space(text(doc, "dpia", ""))

sponsor := text(doc, "sponsor", "")

applicant := doc.applicant if {
	type_name(doc.applicant) == "object"
} else := {}

applicant_name := text(applicant, "name", "the applicant")

applicant_roles := list(object.get(applicant, "roles", []))

members := [m | some m in list(object.get(doc, "members", [])); type_name(m) == "string"; trim_space(m) != ""]

# The datasets and columns asked for, each part defaulted. A column's reason is trimmed: blank is none.
datasets := [{
	"id": text(d, "id", "(a dataset with no id)"),
	"department": text(d, "department", "(no department)"),
	"flags": list(object.get(d, "flags", [])),
	"columns": [requested_column(c) | some c in list(object.get(d, "columns", [])); type_name(c) == "object"],
} |
	some d in list(object.get(doc, "datasets", []))
	type_name(d) == "object"
]

requested_column(c) := {
	"name": text(c, "name", "(a column with no name)"),
	"role": text(c, "role", ""),
	"flags": list(object.get(c, "flags", [])),
	"reason": trim_space(text(c, "reason", "")),
}

departments := {d.department | some d in datasets}

# The gateway chosen, when it is in the register (undefined otherwise), and its name for messages.
gateway := data.gateways[gateway_id]

gateway_name := text(object.get(data.gateways, gateway_id, {}), "name", gateway_id)

# Special category data requested: a flagged dataset, or a flagged column of a dataset that is not
# flagged as a whole (one reason is enough). Each as [department, dataset, column or null, what].
special_category contains [d.department, d.id, null, d.id] if {
	some d in datasets
	"special_category" in d.flags
}

special_category contains [d.department, d.id, c.name, lib.text([d.id, ".", c.name])] if {
	some d in datasets
	not "special_category" in d.flags
	some c in d.columns
	"special_category" in c.flags
}

# -- Dates (YYYY-MM-DD) ----------------------------------------------------------------------------
# Compared as text, which orders them; checked first, so time.parse_ns never sees a bad date.

# By text: regopy 1.5.2 keeps to_number("02") as 02, which then fails to equal 2 in a function call.
valid_date(s) if {
	regex.match(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`, s)
	day := substring(s, 8, 2)
	day >= "01"
	day <= month_length(substring(s, 0, 4), substring(s, 5, 2))
}

month_length(year, month) := "29" if {
	month == "02"
	leap(to_number(year))
} else := month_lengths[month]

month_lengths := {
	"01": "31", "02": "28", "03": "31", "04": "30", "05": "31", "06": "30",
	"07": "31", "08": "31", "09": "30", "10": "31", "11": "30", "12": "31",
}

leap(year) if {
	year % 4 == 0
	year % 100 != 0
}

leap(year) if year % 400 == 0

# The same day, n years later ("2028-02-29" + 1 gives "2029-02-29", which still orders correctly).
years_after(date, n) := lib.text([format_int(to_number(substring(date, 0, 4)) + n, 10), substring(date, 4, 6)])

days_between(from, to) := (time.parse_ns("2006-01-02", to) - time.parse_ns("2006-01-02", from)) / 86400000000000

# -- Findings --------------------------------------------------------------------------------------
# Name the rule "applications.<what>" (or "applications.<department>_<what>"); the message says
# what is wrong, then what to do. department, dataset and column are null when they do not apply.

finding(rule, message, dept, dataset_id, column_name) := {
	"rule": rule,
	"message": message,
	"department": dept,
	"dataset": dataset_id,
	"column": column_name,
}
