"""The protect stage as the service uses it: the table, the masks, the report and its figures."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import trust.sdc
from trust.errors import DisclosureBlocked
from trust.outputs.output import Output
from trust.sdc.parameters import Parameters
from trust.sdc.protect import protect
from trust.sdc.report import SUPPRESSED_MARKER, CellStatus

from .casebook import _companions, all_cases, plan_for, python_raw


def _case(name: str):
    return next(c for c in all_cases() if c.name == name)


def test_review_cells_are_hidden_like_suppressed_ones():
    case = _case("a negative unit sends the cell to review")
    spec = case.outputs[0]
    raw = python_raw(case, spec)
    protected = protect(raw, plan_for(case, spec, _companions(case, spec)), Parameters(), max_rows=100)
    regions = protected.table.column("region").to_pylist()
    a = regions.index("A")
    pay = protected.table.column_names.index("pay")
    assert protected.suppressed[pay][a] and protected.table.column("pay")[a].as_py() is None
    cell = next(c for c in protected.report.cells if c.row == a and c.column == "pay")
    assert cell.status is CellStatus.REVIEW and cell.hidden and cell.rule == "negative"
    assert protected.report.status is CellStatus.REVIEW
    out = Output(
        "out-1", "ana", "p", "now", "sql", "sql", protected.table, protected.suppressed, protected.report, {}, {}
    )
    assert out.rows()[a][pay] == SUPPRESSED_MARKER
    assert SUPPRESSED_MARKER in out._repr_html_() and SUPPRESSED_MARKER in str(out)
    assert out.to_pandas()["pay"].isna()[a] and out.suppressed_frame()["pay"][a]  # missing in the data, [c] in views


def test_figures_stay_with_the_checkers():
    case = _case("exactly 90 percent fails and 89.9 percent passes")
    spec = case.outputs[0]
    protected = protect(
        python_raw(case, spec), plan_for(case, spec, _companions(case, spec)), Parameters(), max_rows=100
    )
    full = protected.report.to_json()
    dominated = next(c for c in full["cells"] if c["rule"] == "dominance")
    assert dominated["figures"]["share"] == 0.9 and dominated["units"] == 12
    assert dominated["figures"]["dominance_share"] == 0.9 and "p_ratio" in dominated["figures"]
    safe = protected.report.to_json(figures=False)
    assert all(set(c) == {"row", "column", "status"} for c in safe["cells"])  # not even the rule's name
    assert "dominance" not in safe["parameters"]


def test_secondary_cells_name_the_cell_they_protect():
    case = _case("a one-way table with its total hides the smallest sufficient complement")
    spec = case.outputs[0]
    protected = protect(
        python_raw(case, spec), plan_for(case, spec, _companions(case, spec)), Parameters(), max_rows=100
    )
    secondary = [c for c in protected.report.cells if c.secondary]
    assert secondary and all("cannot be recovered" in c.detail for c in secondary)
    assert any("protects" in c.figures for c in secondary)
    assert "secondary" in protected.report.summary()


def test_without_companions_only_minimum_units_applies():
    case = _case("exactly 90 percent fails and 89.9 percent passes")
    spec = case.outputs[0]
    protected = protect(python_raw(case, spec), plan_for(case, spec, None), Parameters(), max_rows=100)
    assert protected.report.status is CellStatus.OK
    assert protected.populations == () and "unavailable" in protected.report.notes[0]


def test_too_many_rows_is_refused():
    case = _case("ten people pass and nine are suppressed")
    spec = case.outputs[0]
    with pytest.raises(DisclosureBlocked):
        protect(python_raw(case, spec), plan_for(case, spec, None), Parameters(), max_rows=2)


def test_an_empty_result_is_protected_trivially():
    case = _case("ten people pass and nine are suppressed")
    spec = case.outputs[0]
    raw = python_raw(case, spec).slice(0, 0)
    protected = protect(raw, plan_for(case, spec, _companions(case, spec)), Parameters(), max_rows=10)
    assert protected.table.num_rows == 0 and protected.report.cells == ()


@pytest.mark.parametrize("name", sorted(m.name for m in pkgutil.iter_modules(trust.sdc.__path__)))
def test_docstring_examples_run(name):
    module = importlib.import_module(f"trust.sdc.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_rules_and_settings_are_documented():
    from pathlib import Path

    from trust.sdc.cells import Parameters
    from trust.sdc.primary import RULES

    text = (Path(__file__).resolve().parents[2] / "docs" / "disclosure.md").read_text()
    for rule in RULES:
        assert f"`{importlib.import_module(rule.__module__).RULE}`" in text, rule.__module__
    for name in Parameters.__dataclass_fields__:
        assert f"`{name}`" in text, name
    for rule in ("secondary", "differencing", "contributions_unavailable"):
        assert f"`{rule}`" in text
