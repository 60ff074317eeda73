# Helpers shared by every module. Owned by the trust's policy team.
#
# Build text with `lib.text([...])` (concat), not sprintf: regopy 1.5.2 renders a string that
# another built-in produced (concat, lower, format_int...) with stray quotes when it passes
# through sprintf's %s, and the decision then fails closed. `trust policy check` warns on sprintf.
package trust.lib

import rego.v1

text(parts) := concat("", parts)

# A denial names its rule, says what is wrong and what would make the request acceptable.
# The message a user sees is the problem followed by the remedy.
denial(rule, problem, remedy) := {"rule": rule, "message": concat(" ", [problem, remedy]), "remedy": remedy}

# "dwp.uc_claims.la_code" -> "dwp.uc_claims"; column_of -> "la_code".
dataset_of(qualified) := concat(".", array.slice(split(qualified, "."), 0, 2))

column_of(qualified) := split(qualified, ".")[2]

# SQL string literals for a list of codes: 'E08000001', 'E08000002'.
sql_list(values) := concat(", ", [concat("", ["'", v, "'"]) | some v in sort(values)])

# A list for messages: "a or b".
or_list(values) := concat(" or ", sort(values))
