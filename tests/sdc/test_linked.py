"""Which cells of an output add up to which others."""

from __future__ import annotations

from trust.sdc.linked import Layout, linked


def _layout(keys, branches, totals, values):
    return Layout(keys=tuple(keys), branches=tuple(branches), totals=tuple(totals), values=values)


def test_a_plain_table_has_no_relations():
    layout = _layout([("A",), ("B",), ("C",)], [0, 0, 0], [(False,)], {"n": (12, 15, 40)})
    assert linked(layout) == ()


def test_two_way_margins_give_row_column_and_grand_totals():
    keys = [
        ("A", "F"),
        ("A", "M"),
        ("B", "F"),
        ("B", "M"),
        ("A", None),
        ("B", None),
        (None, "F"),
        (None, "M"),
        (None, None),
    ]
    branches = [0, 0, 0, 0, 1, 1, 2, 2, 3]
    totals = [(False, False), (False, True), (True, False), (True, True)]
    values = {"n": (10, 20, 30, 40, 30, 70, 40, 60, 100)}
    eqs = linked(_layout(keys, branches, totals, values))
    by_total = {}
    for e in eqs:
        by_total.setdefault(e.total[0], []).append(sorted(p[0] for p in e.parts))
    assert by_total[4] == [[0, 1]] and by_total[5] == [[2, 3]]
    assert by_total[6] == [[0, 2]] and by_total[7] == [[1, 3]]
    assert sorted(by_total[8]) == [[0, 1, 2, 3], [4, 5], [6, 7]]


def test_structural_relations_hold_even_when_the_numbers_do_not_add_up():
    # A total branch with a different filter still bounds its parts.
    layout = _layout([("A",), ("B",), (None,)], [0, 0, 1], [(False,), (True,)], {"n": (12, 15, 999)})
    assert len(linked(layout)) == 1


def test_an_analysts_own_total_row_is_found_from_the_numbers():
    layout = _layout([("A",), ("B",), ("C",), ("All",)], [0, 0, 0, 0], [(False,)], {"n": (10, 20, 30, 60)})
    (eq,) = linked(layout)
    assert eq.total == (3, "n") and sorted(p[0] for p in eq.parts) == [0, 1, 2]


def test_a_single_row_branch_equal_to_another_branch_is_its_total():
    layout = _layout([("A",), ("B",), ("everyone",)], [0, 0, 1], [(False,), (False,)], {"n": (10, 20, 30)})
    assert [(e.total, e.parts) for e in linked(layout)] == [((2, "n"), ((0, "n"), (1, "n")))]


def test_a_column_that_is_the_sum_of_the_others():
    values = {"all": (33, 45), "f": (3, 20), "m": (30, 25)}
    eqs = linked(_layout([("A",), ("B",)], [0, 0], [(False,)], values))
    assert {(e.total, e.parts) for e in eqs} == {((0, "all"), ((0, "f"), (0, "m"))), ((1, "all"), ((1, "f"), (1, "m")))}
