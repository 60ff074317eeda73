"""The attacker's audit, as a report: every attack sequence against a demo trust, audited.

Starts the four departments on loopback (synthetic data at the tests' scale), opens a trust with a
project per sequence and actor (``tests.attacks.arena``), runs every sequence of
``tests/attacks/sequences/*.yaml`` and every refusal oracle of ``tests/attacks/oracles.yaml``, and
writes ``benchmarks/results/attacks.md``: per sequence its protected quantities, the narrowest
interval the linear-programming auditor could put each in, the averaging attacker's estimate error,
and whether that is a leak; a summary per category and per sequence first.

    .venv/bin/python benchmarks/attacks.py
    .venv/bin/python benchmarks/attacks.py --only padding two-projects   # sequences whose names contain these
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.attacks.arena import open_arena  # noqa: E402
from tests.attacks.cases import CATEGORIES, load_sequences  # noqa: E402
from tests.attacks.criteria import P_PERCENT, Verdict  # noqa: E402
from tests.attacks.harness import Result, run  # noqa: E402
from tests.attacks.oracle import VARIANTS, OracleCase, group_size, load_oracles, policy_filters, shape  # noqa: E402
from trust.demo.environment import DEFAULT_SEED  # noqa: E402
from trust.demo.generate import ensure_generated  # noqa: E402
from trust.demo.servers import DepartmentServers  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "attacks.md"
TEST_SCALE = 0.5  # tests/conftest.py's scale, so the report describes what the tests see


def _number(value: float, kind: str) -> str:
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    return f"{value:,.0f}" if kind == "count" else f"{value:,.2f}"


def _width(v: Verdict) -> str:
    """How wide the attacker's interval is: in units for counts, in largest contributions for sums."""
    width = v.interval.hi - v.interval.lo
    if v.quantity.term.kind == "count":
        return _number(width, "count")
    largest = v.quantity.largest or 0.0
    if math.isinf(width) or largest == 0:
        return _number(width, "sum")
    return f"{width / largest:.2f} x1"


def _error(v: Verdict, estimate: float) -> str:
    if math.isnan(estimate):
        return "-"
    return _number(abs(estimate - v.quantity.truth), v.quantity.term.kind)


def _summary_row(r: Result) -> str:
    asked = len(r.received)
    answered = sum(1 for x in r.received if x.output is not None)
    counts = [v for v in r.verdicts if v.quantity.term.kind == "count"]
    narrowest = min((v.interval.hi - v.interval.lo for v in counts), default=math.nan)
    errors = [
        abs(e - v.quantity.truth)
        for v, e in zip(r.verdicts, r.estimates)
        if v.quantity.term.kind == "count" and not math.isnan(e)
    ]
    median = f"{statistics.median(errors):,.1f}" if errors else "-"
    narrow = "-" if math.isnan(narrowest) else _number(narrowest, "count")
    return (
        f"| [{r.sequence.name}](#{r.sequence.name}) | {r.sequence.category} | {answered}/{asked} | "
        f"{len(r.verdicts)} | {len(r.leaks)} | {narrow} | {median} | {len(r.inconsistent)} | "
        f"{'**yes**' if r.leaks else 'no'} |"
    )


def _detail(r: Result) -> list[str]:
    seq = r.sequence
    actors = ", ".join(f"{a.name}: {a.user} on {a.project}" for a in seq.actors)
    lines = [f"### {seq.name}", "", f"*{seq.category}* ({actors}). {seq.description}", ""]
    for i, x in enumerate(r.received, 1):
        who = f"{x.actor}: " if len(seq.actors) > 1 else ""
        answer = f"refused ({x.refusal[0]}: {x.refusal[1]})" if x.refusal else f"{x.output.table.num_rows} rows"
        lines.append(f"{i}. {who}`{x.sql}` → {answer}")
    if seq.probes:
        lines += [""] + [f"- probe `{p.name}`: `{p.sql}`" for p in seq.probes]
    lines += [
        "",
        "| protected quantity | origin | true | attacker's interval | width | estimate error | leak |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for v, e in zip(r.verdicts, r.estimates):
        q = v.quantity
        kind = q.term.kind
        interval = f"[{_number(v.interval.lo, kind)}, {_number(v.interval.hi, kind)}]"
        label = q.label + (f" (also {len(q.also)} more)" if q.also else "")
        lines.append(
            f"| {label} | {q.origin} | {_number(q.truth, kind)} | {interval} | {_width(v)} | "
            f"{_error(v, e)} | {'**' + v.how + '**' if v.leak else 'no'} |"
        )
    if not r.verdicts:
        lines.append("| (none) | | | | | | |")
    if r.inconsistent:
        lines += ["", f"Different answers for the same people ({len(r.inconsistent)}):", ""]
        lines += [f"- {x}" for x in r.inconsistent[:10]]
        if len(r.inconsistent) > 10:
            lines.append(f"- ... and {len(r.inconsistent) - 10} more")
    lines.append("")
    return lines


def _oracles(home: Path, endpoints: Any, data_dir: Path) -> list[tuple[OracleCase, dict[str, Any], dict[str, int]]]:
    cases = load_oracles()
    out = []
    by_settings: dict[tuple[tuple[str, Any], ...], list[OracleCase]] = defaultdict(list)
    for c in cases:
        by_settings[tuple(sorted(c.settings.items()))].append(c)
    for i, (settings, group) in enumerate(by_settings.items()):
        arena = open_arena(
            home / f"oracles-{i}" / "home", endpoints, [s for c in group for s in c.sequences()], **dict(settings)
        )
        for case in group:
            answers, sizes = {}, {}
            for variant, seq in zip(VARIANTS, case.sequences()):
                session = arena.session(seq, seq.actors[0])
                sizes[variant] = group_size(case, variant, policy_filters(session, case.text(variant)), data_dir)
                answers[variant] = shape(session, case.text(variant))
            out.append((case, answers, sizes))
    return out


def _shape_text(answer: tuple[Any, ...]) -> str:
    if answer[0] == "refused":
        return f"refused: {answer[1]}: {answer[2]}"
    rows = answer[2]
    hidden = sum(sum(flags) for _, flags in rows)
    return f"{len(rows)} rows, {hidden} [c]"


def render(results: list[Result], oracles: list[Any], seconds: float, args: argparse.Namespace) -> str:
    leaking = [r for r in results if r.leaks]
    lines = [
        "# The attacker's audit",
        "",
        f"Generated by `benchmarks/attacks.py` on {platform.machine()}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, in {seconds:.0f} s: {len(results)} attack sequences and {len(oracles)} refusal "
        f"oracles against the demo departments (scale {args.scale}, seed {DEFAULT_SEED}, as the tests).",
        "",
        f"**{len(leaking)} of {len(results)} sequences leak**; "
        f"{sum(len(r.leaks) for r in results)} of {sum(len(r.verdicts) for r in results)} protected quantities "
        f"are recovered; {sum(1 for _, a, _ in oracles if a['present'] != a['absent'])} of {len(oracles)} "
        "oracles answer differently when a small group exists.",
        "",
        "How to read this. Each sequence (`tests/attacks/sequences/*.yaml`) is asked of the trust by its "
        "actors (each sequence in projects of its own). The auditor (`tests/attacks/auditor.py`) takes "
        "everything they received: each shown cell as the sum of its atoms (the finest partition of the rows "
        "the sequence's dimensions and thresholds can tell apart, empty combinations included) within "
        "`noise_bound` of the published value (`tests/attacks/noise.py`; 0 while values are published "
        "exactly), each shown row as at least the minimum units, each absent row as 0 to `min_units - 1` "
        "units (not for rows with conditional aggregates, which are withheld when any part is small: a "
        "disjunction a linear program cannot hold, so the attacker is given less, never something false). For every protected quantity (a count under the minimum, zeros included, of any cell shown or "
        "hidden; a sum with few contributors, dominated, or failing p%; every withheld row; every probe) two "
        "linear programs (HiGHS) give the narrowest interval it can lie in. A **leak** is a count of 1 to 9 "
        f"or a zero pinned to one value, a sensitive sum known to within {P_PERCENT:.0%} of its largest "
        "contribution (half-width), or a probed group of 1 to 9 proved to exist. The *estimate error* is the "
        "averaging attacker's (every published value of a cell averaged, all fitted by bounded least squares, "
        "kept inside the interval). *Width* is in units for counts, in largest contributions (x1) for sums. "
        "*Inconsistent* counts cells over the same people with the same statistic that got different answers "
        "(a value, another value or `[c]`).",
        "",
        "## By category",
        "",
        "| category | sequences | leaking | protected quantities | recovered |",
        "|---|---:|---:|---:|---:|",
    ]
    for cat in CATEGORIES:
        mine = [r for r in results if r.sequence.category == cat]
        if mine:
            lines.append(
                f"| {cat} | {len(mine)} | {sum(1 for r in mine if r.leaks)} | "
                f"{sum(len(r.verdicts) for r in mine)} | {sum(len(r.leaks) for r in mine)} |"
            )
    lines += [
        "",
        "## By sequence",
        "",
        "| sequence | category | answered | protected | leaked | narrowest count interval | "
        "median count estimate error | inconsistent | leak |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    lines += [_summary_row(r) for r in results]
    lines += [
        "",
        "## Refusal and suppression oracles",
        "",
        "Two queries that differ only in whether a small group exists (`tests/attacks/oracles.yaml`), each in "
        "a fresh project; the answers' shapes (result or refusal and its message, rows, `[c]` cells) must "
        "match.",
        "",
        "| oracle | group present | answer | group absent | answer | same |",
        "|---|---:|---|---:|---|---|",
    ]
    for case, answers, sizes in oracles:
        same = answers["present"] == answers["absent"]
        lines.append(
            f"| {case.name} | {sizes['present']} | {_shape_text(answers['present'])} | {sizes['absent']} | "
            f"{_shape_text(answers['absent'])} | {'yes' if same else '**no**'} |"
        )
    lines += ["", "## Sequences", ""]
    for r in results:
        lines += _detail(r)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=[], help="run only sequences whose names contain one of these")
    parser.add_argument("--scale", type=float, default=TEST_SCALE, help=f"demo data scale (default {TEST_SCALE})")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    sequences = [s for s in load_sequences() if not args.only or any(o in s.name for o in args.only)]
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        ensure_generated(data_dir, scale=args.scale, seed=DEFAULT_SEED)
        with DepartmentServers(data_dir) as servers:
            arena = open_arena(Path(tmp) / "attacks" / "home", servers.endpoints, sequences)
            results = []
            for seq in sequences:
                result = run(arena, seq, data_dir)
                results.append(result)
                print(f"{seq.name}: {len(result.verdicts)} protected, {len(result.leaks)} leaked", flush=True)
            oracles = _oracles(Path(tmp), servers.endpoints, data_dir)
    seconds = time.perf_counter() - start
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render(results, oracles, seconds, args) + "\n", encoding="utf-8")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
