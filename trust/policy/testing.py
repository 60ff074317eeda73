"""``trust policy test``: run the ``test_`` rules in ``*_test.rego`` files, like ``opa test``.

    >>> results = run_tests(Path("policies"))              # doctest: +SKIP
    >>> [r.status for r in results]                        # doctest: +SKIP
    ['pass', 'pass', ...]

A test passes when its rule is true, fails when it is false or undefined, and errors when the
engine cannot evaluate it. Rules named ``todo_test_...`` are reported as skipped. Tests run on the
same embedded evaluator the trust uses, with the same policy data.

A failing test is run once more, traced (``trust.policy.coverage``), to name the expression in its
body where evaluation stopped, with the values it compared. When the policy or its tests do not
compile, each compile error is reported once (``report``), not once per test.

regopy 1.5.2 mis-evaluates ``with input as {...}`` (replacing the whole input) once a rule calls
a built-in, and ``with input.x as some_rule``; write ``with input.identity as ... with
input.query as q`` where ``q`` is a local variable. ``trust policy check`` warns about both.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import regopy

from trust.policy.check import Problem, compile_problems
from trust.policy.coverage import Step, Traced, TraceUnavailable, reads, steps, traced_run
from trust.policy.embedded import (
    PolicyFailure,
    engine_output,
    new_interpreter,
    policy_data,
    read_modules,
    run,
    test_modules,
)

_PACKAGE = re.compile(r"^package\s+([A-Za-z_][\w.]*)", re.M)
_TEST_RULE = re.compile(r"^((?:todo_)?test_\w+)\b(?=\s*(?:if\b|\{|:=|=|contains\b))", re.M)


@dataclass(frozen=True)
class RegoTest:
    file: str
    line: int
    package: str
    name: str

    @property
    def skipped(self) -> bool:
        return self.name.startswith("todo_")

    @property
    def ref(self) -> str:
        return f"data.{self.package}.{self.name}"

    @property
    def entrypoint(self) -> str:
        return f"{self.package.replace('.', '/')}/{self.name}"


RegoTest.__test__ = False  # type: ignore[attr-defined]  # not a pytest class


@dataclass(frozen=True)
class TestResult:
    test: RegoTest
    status: str  # pass | fail | error | skip
    detail: str = ""
    seconds: float = 0.0
    problems: tuple[Problem, ...] = ()  # compile errors (the same for every test of the run)

    def line(self) -> str:
        ms = f" ({self.seconds * 1000:.1f}ms)" if self.status in {"pass", "fail"} else ""
        text = f"{self.test.ref}: {self.status.upper()}{ms}"
        return text + (f"\n    {self.detail}" if self.detail else "")


TestResult.__test__ = False  # type: ignore[attr-defined]


def discover(sources: Mapping[str, str]) -> list[RegoTest]:
    """The test rules in each ``*_test.rego`` source, in file order (one entry per name)."""
    tests: list[RegoTest] = []
    for file, source in sources.items():
        if not file.endswith("_test.rego"):
            continue
        package = _PACKAGE.search(source)
        if package is None:
            continue
        seen: set[str] = set()
        for match in _TEST_RULE.finditer(source):
            name = match.group(1)
            if name in seen:  # a rule with several bodies is one test
                continue
            seen.add(name)
            tests.append(RegoTest(file, source.count("\n", 0, match.start()) + 1, package.group(1), name))
    return tests


def run_tests(directory: Path, *, pattern: str | None = None, trace_failures: bool = True) -> list[TestResult]:
    """Run every test rule under ``directory`` (optionally only those whose ref matches ``pattern``).

    With ``trace_failures``, each failure's detail names the expression that failed (one traced run more).
    """
    modules = read_modules(directory, tests=True)
    tests = discover(modules)
    if pattern:
        wanted = re.compile(pattern)
        tests = [t for t in tests if wanted.search(t.ref)]
        # Compiling test modules dominates the run: leave out test files with nothing selected
        # (files without tests, such as fixtures, stay).
        files_with_tests = {t.file for t in discover(modules)}
        selected = {t.file for t in tests}
        modules = {name: src for name, src in modules.items() if name not in files_with_tests or name in selected}
    runnable = [t for t in tests if not t.skipped]
    results: dict[RegoTest, TestResult] = {t: TestResult(t, "skip") for t in tests if t.skipped}
    try:
        with engine_output() as printed:
            rego = new_interpreter(modules, policy_data(directory))
            bundle = rego.build(None, [t.entrypoint for t in runnable]) if runnable else None
    except regopy.RegoError as exc:
        problems = tuple(compile_problems(exc, "".join(printed), modules))
        message = f"the policy and its tests do not compile: {problems[0]}"
        return [results.get(t) or TestResult(t, "error", message, problems=problems) for t in tests]
    rego.set_input(empty := regopy.Input({}))
    for t in runnable:
        started = time.perf_counter()
        try:
            with engine_output() as printed:
                value = run(rego, bundle, t.entrypoint)
        except PolicyFailure as exc:
            said = " ".join("".join(printed).split())[:300]
            results[t] = TestResult(t, "error", f"{exc}{': ' + said if said else ''}", time.perf_counter() - started)
            continue
        elapsed = time.perf_counter() - started
        if value is True:
            results[t] = TestResult(t, "pass", "", elapsed)
        else:
            why = "undefined" if not isinstance(value, bool) else "false"
            results[t] = TestResult(t, "fail", f"{t.file}:{t.line}: the rule is {why}", elapsed)
    del empty
    failed = [t for t in runnable if results[t].status == "fail"]
    if failed and trace_failures:
        for t, why in _why_failed(modules, policy_data(directory), failed).items():
            r = results[t]
            results[t] = TestResult(t, r.status, f"{r.detail}\n    {why}", r.seconds)
    return [results[t] for t in tests]


def _why_failed(modules: dict[str, str], data: dict[str, Any], failed: list[RegoTest]) -> dict[RegoTest, str]:
    """For each failed test, the expression in its body where evaluation stopped, and the values it read."""
    entries = [t.entrypoint for t in failed]
    try:
        with tempfile.TemporaryDirectory(prefix="trust-policy-test-") as tmp:
            traced = traced_run(modules, data, entries, entries, Path(tmp))
            return {t: why for i, t in enumerate(failed) if (why := _failure(traced, i, t, modules))}
    except (TraceUnavailable, OSError, ValueError, KeyError):
        return {}  # the failure is still reported, without the expression


def _failure(traced: Traced, i: int, test: RegoTest, sources: dict[str, str]) -> str | None:
    """Evaluation runs a body in order and stops at the first expression that is false or undefined, so
    the failing expression is on the furthest line of the test's body that ever ran (in every branch of
    a ``some``, it failed there)."""
    lines = traced.trace(i)
    own = f".data.{test.package}.{test.name}"
    ran: list[tuple[int, int, Step]] = []  # located steps in the test's body: line, column, step
    last: Step | None = None  # where evaluation stopped
    for step in steps(lines, traced.plan, test.entrypoint):
        if not step.function.endswith(own):
            continue  # inside a rule or function the test called
        where = step.location(traced.files)
        if where is not None and (where[0] != test.file or (where[1], where[2]) == (test.line, 1)):
            continue  # the rule head's own bookkeeping, or a fixture inlined from elsewhere
        last = step
        if where is not None:
            ran.append((where[1], where[2], step))
    if not ran or last is None:
        return None
    line = max(r[0] for r in ran)
    column = min(r[1] for r in ran if r[0] == line)
    final = [r[2] for r in ran if r[0] == line][-1]
    text = sources[test.file].splitlines()[line - 1][column - 1 :].strip()
    stopped = reads(lines, last.at)
    outcome = (
        "false" if last.kind == "EqualStmt" or (last.kind == "NotEqualStmt" and stopped == ["false"]) else "undefined"
    )
    why = f"fails at {test.file}:{line}:{column}: {text}  ({outcome})"
    values = [v if len(v) <= 160 else v[:157] + "..." for v in reads(lines, final.at)]
    if values:
        why += "\n    values: " + "  |  ".join(values)
    return why


def report(results: list[TestResult], *, verbose: bool = False) -> str:
    """Text like ``opa test``: failures (or everything with ``verbose``) by file, then a summary."""
    lines: list[str] = []
    problems = list(dict.fromkeys(p for r in results for p in r.problems))
    if problems:  # nothing ran: each compile error once, not once per test
        lines += [str(p) for p in problems]
        lines.append(f"the policy and its tests do not compile: {len(problems)} error(s); no test ran")
        lines.append(f"ERROR: {len(results)}/{len(results)}")
        return "\n".join(lines)
    shown = [r for r in results if verbose or r.status in {"fail", "error"}]
    current = None
    for r in shown:
        if r.test.file != current:
            current = r.test.file
            lines.append(f"{current}:")
        lines.append(r.line())
    counts = {s: sum(1 for r in results if r.status == s) for s in ("pass", "fail", "error", "skip")}
    if shown:
        lines.append("-" * 80)
    total = len(results)
    for status in ("pass", "fail", "error", "skip"):
        if counts[status]:
            lines.append(f"{status.upper()}: {counts[status]}/{total}")
    if not results:
        lines.append("no tests found (test rules are named test_... in *_test.rego files)")
    return "\n".join(lines)


def find_tests(directory: Path) -> list[RegoTest]:
    return discover({str(p.relative_to(directory)): p.read_text() for p in test_modules(directory)})
