"""``trust policy test``: run the ``test_`` rules in ``*_test.rego`` files, like ``opa test``.

    >>> results = run_tests(Path("policies"))              # doctest: +SKIP
    >>> [r.status for r in results]                        # doctest: +SKIP
    ['pass', 'pass', ...]

A test passes when its rule is true, fails when it is false or undefined, and errors when the
engine cannot evaluate it. Rules named ``todo_test_...`` are reported as skipped. Tests run on the
same embedded evaluator the trust uses, with the same policy data.

regopy 1.5.2 mis-evaluates ``with input as {...}`` (replacing the whole input) once a rule calls
a built-in, and ``with input.x as some_rule``; write ``with input.identity as ... with
input.query as q`` where ``q`` is a local variable. ``trust policy check`` warns about both.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import regopy

from trust.policy.embedded import (
    PolicyFailure,
    compile_error,
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


def run_tests(directory: Path, *, pattern: str | None = None) -> list[TestResult]:
    """Run every test rule under ``directory`` (optionally only those whose ref matches ``pattern``)."""
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
        where = _where("".join(printed))
        message = f"the policy and its tests do not compile: {compile_error(exc)}{where}"
        return [results.get(t) or TestResult(t, "error", message) for t in tests]
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
    return [results[t] for t in tests]


def _where(printed: str) -> str:
    found = re.search(r"-- (\S+:\d+:\d+)", printed)
    return f" at {found.group(1)}" if found else ""


def report(results: list[TestResult], *, verbose: bool = False) -> str:
    """Text like ``opa test``: failures (or everything with ``verbose``) by file, then a summary."""
    lines: list[str] = []
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
