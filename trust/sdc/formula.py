"""How a result column is computed from its aggregates, so it can be recomputed from perturbed ones.

An analyst's column may be an aggregate (``count(*)``) or arithmetic over aggregates
(``sum(tax_paid) / sum(gross_pay)``, ``count(*) * 100.0 / 10000``); a HAVING condition is a test on
aggregates. ``trust.sql.publish`` turns each into a ``Formula`` whose leaves are the query's
aggregates (``Agg``, by slot); disclosure control perturbs each aggregate by the cell key method and
evaluates the formula on the perturbed values, so what is published, and which rows HAVING keeps,
depend only on published numbers, never on true ones (else ``HAVING count(*) > 51`` would answer a
question about the true count).

The operators follow DuckDB on the doubles aggregates arrive as: ``/`` divides in floating point (a zero
divisor gives infinity), ``//`` truncates whole numbers and divides fractions, ``%`` keeps the dividend's
sign, ROUND rounds half away from zero and a cast to a whole number half to even, NULL propagates, and
AND/OR/NOT are three-valued.

    >>> evaluate(Op("div", (Agg(0), Agg(1))), {0: 30.0, 1: 120.0})
    0.25
    >>> evaluate(Op("gt", (Agg(0), Lit(100))), {0: None}) is None
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Union


@dataclass(frozen=True)
class Lit:
    value: Any  # int, float, str, bool or None


@dataclass(frozen=True)
class Agg:
    slot: int  # which of the query's aggregates (trust.sdc.plan.Slot.key)


@dataclass(frozen=True)
class Op:
    name: str  # one of OPS
    args: tuple[Formula, ...]


@dataclass(frozen=True)
class Case:
    whens: tuple[tuple[Formula, Formula], ...]
    default: Formula


Formula = Union[Lit, Agg, Op, Case]  # noqa: UP007 (a runtime alias, used in dataclass fields above)


def _num(x: Any) -> Any:
    return float(x) if isinstance(x, Decimal) else x


def _round_half_away(x: float, digits: int = 0) -> float:
    q = Decimal(1).scaleb(-digits)
    return float(Decimal(repr(x)).quantize(q, rounding=ROUND_HALF_UP))


def _div(a: Any, b: Any) -> Any:
    a, b = float(a), float(b)
    if b == 0:
        return math.nan if a == 0 or math.isnan(a) else math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def _intdiv(a: Any, b: Any) -> Any:
    """DuckDB's ``//``: whole numbers truncate toward zero; a fraction on either side divides."""
    if isinstance(a, float) or isinstance(b, float):
        return _div(a, b)
    if b == 0:
        return None
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _to_int(a: Any) -> Any:
    """DuckDB's cast of a double to a whole number: half to even (2.5 is 2, 3.5 is 4)."""
    if isinstance(a, float):
        return int(round(a)) if math.isfinite(a) else None
    return int(a)


def _mod(a: Any, b: Any) -> Any:
    if b == 0:
        return None
    return math.fmod(a, b) if isinstance(a, float) or isinstance(b, float) else int(math.fmod(a, b))


def _strict(fn: Callable[..., Any]) -> Callable[..., Any]:
    """NULL in, NULL out."""

    def apply(*args: Any) -> Any:
        return None if any(a is None for a in args) else fn(*(_num(a) for a in args))

    return apply


def _and(*args: Any) -> Any:
    if any(a is False for a in args):
        return False
    return None if any(a is None for a in args) else True


def _or(*args: Any) -> Any:
    if any(a is True for a in args):
        return True
    return None if any(a is None for a in args) else False


def _coalesce(*args: Any) -> Any:
    return next((a for a in args if a is not None), None)


def _extreme(pick: Callable[..., Any]) -> Callable[..., Any]:
    def apply(*args: Any) -> Any:
        present = [_num(a) for a in args if a is not None]
        return pick(present) if present else None

    return apply


OPS: dict[str, Callable[..., Any]] = {
    "neg": _strict(lambda a: -a),
    "add": _strict(lambda a, b: a + b),
    "sub": _strict(lambda a, b: a - b),
    "mul": _strict(lambda a, b: a * b),
    "div": _strict(_div),
    "intdiv": _strict(_intdiv),
    "mod": _strict(_mod),
    "eq": _strict(lambda a, b: a == b),
    "neq": _strict(lambda a, b: a != b),
    "lt": _strict(lambda a, b: a < b),
    "lte": _strict(lambda a, b: a <= b),
    "gt": _strict(lambda a, b: a > b),
    "gte": _strict(lambda a, b: a >= b),
    "and": _and,
    "or": _or,
    "not": _strict(lambda a: not a),
    "isnull": lambda a: a is None,
    "abs": _strict(abs),
    "round": _strict(lambda a, d=0: _round_half_away(float(a), int(d))),
    "floor": _strict(lambda a: float(math.floor(a))),
    "ceil": _strict(lambda a: float(math.ceil(a))),
    "int": _strict(_to_int),
    "float": _strict(float),
    "nullif": lambda a, b: None if a is not None and b is not None and _num(a) == _num(b) else a,
    "coalesce": _coalesce,
    "greatest": _extreme(max),
    "least": _extreme(min),
}


def evaluate(formula: Formula, values: Mapping[int, Any]) -> Any:
    """The formula's value with each aggregate slot's value from ``values`` (None: NULL)."""
    if isinstance(formula, Lit):
        return formula.value
    if isinstance(formula, Agg):
        return values.get(formula.slot)
    if isinstance(formula, Case):
        for when, then in formula.whens:
            if evaluate(when, values) is True:
                return evaluate(then, values)
        return evaluate(formula.default, values)
    return OPS[formula.name](*(evaluate(a, values) for a in formula.args))


def slots(formula: Formula) -> set[int]:
    """Every aggregate slot the formula reads."""
    if isinstance(formula, Agg):
        return {formula.slot}
    if isinstance(formula, Op):
        return set().union(*(slots(a) for a in formula.args)) if formula.args else set()
    if isinstance(formula, Case):
        found: set[int] = slots(formula.default)
        for when, then in formula.whens:
            found |= slots(when) | slots(then)
        return found
    return set()
