"""The attacker's audit (issue 12; DESIGN sections 7 and 11), end to end against the real departments.

Every sequence of ``sequences/*.yaml`` is asked of the trust by its actors, and everything they
received is handed to the linear-programming auditor, which bounds every protected quantity. A
sequence passes when nothing is pinned (a count of 1 to 9 or a protected zero), no sensitive sum is
known to within 10% of its largest contribution, and no probed small group is proved to exist.
While the trust publishes exact values with suppression and a per-project history, many of these
fail: that is what they are for.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.attacks.arena import Arena
from tests.attacks.cases import Sequence
from tests.attacks.conftest import ORACLES, SEQUENCES
from tests.attacks.harness import Result
from tests.attacks.oracle import VARIANTS, OracleCase, group_size, policy_filters, shape


def _describe(result: Result) -> str:
    lines = []
    for v in result.leaks:
        q = v.quantity
        lines.append(
            f"{q.label} ({q.origin}): true {q.truth:g}, attacker's interval "
            f"[{v.interval.lo:g}, {v.interval.hi:g}]: {v.how}"
        )
    return "\n".join(lines)


@pytest.mark.parametrize("seq", SEQUENCES, ids=lambda s: s.name)
def test_no_sequence_pins_a_protected_quantity(seq: Sequence, audited: Callable[[Sequence], Result]) -> None:
    result = audited(seq)
    answered = [r for r in result.received if r.output is not None]
    assert answered, f"every query was refused: {[r.refusal for r in result.received]}"
    assert any(v.quantity.sensitive for v in result.verdicts), (
        "the sequence protects nothing (no small count, zero, sensitive sum or probe): it would test nothing"
    )
    if result.leaks:
        pytest.fail(f"{len(result.leaks)} protected quantities recovered:\n{_describe(result)}", pytrace=False)


def test_the_same_people_get_the_same_answer(audited: Callable[[Sequence], Result]) -> None:
    """Re-asked or re-spelled, a cell over the same people with the same statistic gets one answer (DESIGN
    section 7: the same population always gets the same published value, however the query is spelled),
    across every sequence; every re-spelling sequence must ask some cell twice."""
    repeated, inconsistent = 0, []
    for seq in SEQUENCES:
        result = audited(seq)
        if seq.category == "respelling":
            assert result.repeats, f"{seq.name}: a re-spelling sequence must ask some cell twice"
        repeated += result.repeats
        inconsistent += [f"{seq.name}: {line}" for line in result.inconsistent]
    assert repeated >= 10, f"only {repeated} cells were asked twice: the check would check little"
    if inconsistent:
        pytest.fail("different answers for the same people:\n" + "\n".join(inconsistent), pytrace=False)


@pytest.mark.parametrize("case", ORACLES, ids=lambda c: c.name)
def test_no_answer_depends_on_whether_a_small_group_exists(
    case: OracleCase, oracle_arena: Callable[[dict[str, Any]], Arena], data_dir: Path
) -> None:
    arena = oracle_arena(case.settings)
    answers = {}
    for variant, seq in zip(VARIANTS, case.sequences()):
        session = arena.session(seq, seq.actors[0])
        sizes = group_size(case, variant, policy_filters(session, case.text(variant)), data_dir)
        assert (1 <= sizes <= 9) if variant == "present" else sizes == 0, (
            f"the case is mis-written: its group has {sizes} people when {variant}"
        )
        answers[variant] = shape(session, case.text(variant))
    if answers["present"] != answers["absent"]:
        pytest.fail(
            f"the answer tells whether the group exists:\n present: {answers['present']}\n"
            f" absent:  {answers['absent']}",
            pytrace=False,
        )


# A cell's rule as a value: rule='zero' (repr), "rule": "dominance" (JSON).
RULE_NAMES = re.compile(r"""rule['"]?\s*[=:]\s*['"](\w+)['"]""")


def test_an_output_names_no_rule_and_describes_no_withheld_row(arena: Arena) -> None:
    """Beyond the numbers: what the analyst holds (the output object and its renderings) says nothing of
    why a cell is hidden (a rule ``zero`` gives the value away) or what was withheld (with unit counts)."""
    seq = next(s for s in SEQUENCES if s.name == "sw-award-sum-by-area-and-sex-then-sex")
    session = arena.session(seq, seq.actors[0])
    out = session.sql(
        "SELECT la_code, count(*) AS n, sum(sanction_deduction) AS sanctions FROM dwp.uc_claims "
        "WHERE region = 'E12000009' GROUP BY la_code"
    )
    assert any(any(col) for col in out.suppressed), "the query must hide something for this test to mean anything"
    assert out.table.num_rows < 8, "Scilly's row must be withheld for this test to mean anything"
    held = "\n".join([repr(out.report), str(out), out._repr_html_()])
    problems = [f"rule names {sorted(set(RULE_NAMES.findall(held)))}"] if RULE_NAMES.search(held) else []
    problems += [f"withheld rows: {m.group(0)!r}" for m in re.finditer(r"[^\n'\"]*withheld[^\n'\"]*", held)]
    if problems:
        pytest.fail(
            "the analyst is told why cells are hidden or what was withheld: " + "; ".join(problems), pytrace=False
        )
