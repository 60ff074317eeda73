"""Complementary suppression: nothing hidden can be recovered, by any combination of relations."""

from __future__ import annotations

from trust.sdc.linked import Equation
from trust.sdc.secondary import Candidate, determined, secondary

T, S, A, B, C = ((i, "n") for i in range(5))


def test_a_chain_of_relations_is_caught_by_the_exact_check():
    # T = A + B + C and a subtotal S = A + B. With A, B, C hidden, every relation hides two or
    # more cells, yet C = T - S.
    eqs = [Equation(T, (A, B, C), "total"), Equation(S, (A, B), "subtotal")]
    assert determined(eqs, {A, B, C}) == {C}
    cells = {
        T: Candidate(150, 150, False, 1),
        S: Candidate(100, 100, False, 1),
        A: Candidate(50, 50, True),
        B: Candidate(50, 50, True),
        C: Candidate(50, 50, True),
    }
    chosen = secondary(eqs, cells, 10)
    assert set(chosen) & {T, S} and chosen[next(iter(set(chosen) & {T, S}))].protects == C
    assert determined(eqs, {A, B, C} | set(chosen)) == set()


def test_hidden_cells_together_must_make_a_safe_cell():
    # Two small cells (3 and 4 people) hidden together still give away their sum of 7.
    cells = {
        (0, "n"): Candidate(3, 3, True),
        (1, "n"): Candidate(4, 4, True),
        (2, "n"): Candidate(30, 30, False),
        (3, "n"): Candidate(12, 12, False),
        (4, "n"): Candidate(49, 49, False, 1),
    }
    eq = Equation((4, "n"), ((0, "n"), (1, "n"), (2, "n"), (3, "n")), "total")
    chosen = secondary([eq], cells, 10)
    assert list(chosen) == [(3, "n")]  # the smallest cell that brings the hidden people to 10 or more


def test_inner_cells_are_preferred_to_margins():
    cells = {
        (0, "n"): Candidate(3, 3, True),
        (1, "n"): Candidate(500, 500, False),
        (2, "n"): Candidate(503, 503, False, 1),
    }
    chosen = secondary([Equation((2, "n"), ((0, "n"), (1, "n")), "total")], cells, 10)
    assert list(chosen) == [(1, "n")]


def test_nothing_hidden_needs_nothing():
    cells = {
        (0, "n"): Candidate(30, 30, False),
        (1, "n"): Candidate(40, 40, False),
        (2, "n"): Candidate(70, 70, False, 1),
    }
    assert secondary([Equation((2, "n"), ((0, "n"), (1, "n")), "t")], cells, 10) == {}


def test_a_fully_hidden_relation_is_safe():
    eqs = [Equation((2, "n"), ((0, "n"), (1, "n")), "t")]
    assert determined(eqs, {(0, "n"), (1, "n"), (2, "n")}) == set()
