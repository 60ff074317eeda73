"""``trust policy test --coverage``: which lines of the Rego policy the Rego tests evaluate.

    >>> report = coverage(Path("policies"))                 # doctest: +SKIP
    >>> report.files[0].file, report.files[0].percent       # doctest: +SKIP
    ('common/trust.rego', 97.4)

regopy 1.5.2 has no coverage of its own (no ``opa test --coverage``), but it compiles Rego to OPA's
intermediate representation, a plan whose every statement carries the file, row and column of the
expression it came from, and at log level TRACE it prints every statement it executes. So the tests
are run once more with tracing on, the trace is walked block by block alongside the plan, and:

- a line is *coverable* when some compiled statement comes from it (body expressions and the
  values rule heads build; comments, blank lines, closing braces and string constants are not);
- a line is *covered* when at least one of its statements was executed by some test. An expression
  that was evaluated and came out false counts as covered, as in ``opa test --coverage``. A rule
  head counts only when its body succeeded, since only then is its value built (``deny contains
  lib.denial(...)``, ``column_masks contains {...}``); the statements every rule runs on entry and
  exit (resetting and returning its value) are left out, or every head would count as soon as the
  rule was asked. A head that builds no value (``allow if {``) is therefore not counted.

The plan is built with every rule of every policy module as an entry point as well as the tests,
so a rule that no test reaches still counts, as not covered. (A function that nothing calls is not
compiled at all, and so is not counted.) If the trace ever disagrees with the plan the coverage is
reported as unavailable rather than guessed.

The traced run happens in a child process: saving the plan (``regopy.Interpreter.save_bundle``)
aborts a process that has loaded duckdb (both ship their own allocator), and every process that
imports ``trust.policy`` has. This file is that child too (``python -P coverage.py SPEC``: ``-P`` keeps this folder, whose
``select.py`` would hide the standard library's, off ``sys.path``), so it imports only the standard
library and, in the child, regopy.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_STMT = re.compile(r"^( *)(\d+)  ([A-Za-z]+)\(")
_READ = re.compile(r"^ *frame\[\d+\] -> (.*)$")
_PACKAGE = re.compile(r"^package\s+([A-Za-z_][\w.]*)", re.M)
# A rule's name at the start of a line: `name if`, `name := `, `name contains`, `name[k] :=`, `default name`.
_RULE = re.compile(r"^(?:default\s+)?([A-Za-z_]\w*)\s*(?=if\b|:=|=|contains\b|\{|\[)", re.M)
_KEYWORDS = {"package", "import", "default", "not", "some", "every", "with", "else"}
WORKER_TIMEOUT_S = 600
# What every rule does with its value on entry and exit (reset it, start an empty set or object, test and
# return it), placed at its head: not evidence that the head was reached.
_BOOKKEEPING = frozenset(
    {"ResetLocalStmt", "ReturnLocalStmt", "IsDefinedStmt", "MakeSetStmt", "MakeObjectStmt", "MakeArrayStmt"}
)


class TraceUnavailable(Exception):
    """The traced run failed or its trace could not be matched to the plan."""


# -- The child process -----------------------------------------------------------------------------


def _worker(spec_path: str) -> int:
    """Build the plan, save it, and run each entry point with tracing on, one trace file each."""
    import ctypes

    import regopy

    spec = json.loads(Path(spec_path).read_text())
    out = Path(spec["out"])
    regopy.set_default_log_level("None")
    rego = regopy.Interpreter()
    try:
        for name, source in spec["modules"]:
            rego.add_module(name, source)
        rego.add_data_json(json.dumps(spec["data"]))
        bundle = rego.build(None, spec["build"])
    except regopy.RegoError as exc:
        print(f"the policy does not compile: {exc}", file=sys.stderr)
        return 3
    rego.save_bundle(str(out / "bundle"), bundle)
    empty = regopy.Input({})
    rego.set_input(empty)
    rego.log_level = regopy.LogLevel.TRACE
    libc = ctypes.CDLL(None)
    for i, entry in enumerate(spec["run"]):
        sys.stdout.flush()
        saved = os.dup(1)
        with open(out / f"trace-{i}.txt", "wb") as sink:
            os.dup2(sink.fileno(), 1)
            try:
                rego.query_bundle_entrypoint(bundle, entry)
            except regopy.RegoError:
                pass  # a test that errors still traced what it evaluated
            finally:
                libc.fflush(None)
                os.dup2(saved, 1)
                os.close(saved)
    return 0


@dataclass(frozen=True)
class Traced:
    """The plan and one trace per entry point run, from the child process."""

    plan: Mapping[str, Any]
    files: tuple[str, ...]  # the plan's file index -> module name
    directory: Path
    runs: tuple[str, ...]

    def trace(self, i: int) -> list[str]:
        return (self.directory / f"trace-{i}.txt").read_text(errors="replace").splitlines()


def traced_run(
    modules: Mapping[str, str], data: Mapping[str, Any], build: Sequence[str], run: Sequence[str], workdir: Path
) -> Traced:
    """Compile ``modules`` with entry points ``build`` and run each of ``run`` traced, in a child process."""
    spec = {"modules": list(modules.items()), "data": data, "build": list(build), "run": list(run), "out": str(workdir)}
    (workdir / "spec.json").write_text(json.dumps(spec))
    try:
        done = subprocess.run(
            [sys.executable, "-P", str(Path(__file__).resolve()), str(workdir / "spec.json")],
            capture_output=True,
            text=True,
            timeout=WORKER_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise TraceUnavailable(f"the traced run took more than {WORKER_TIMEOUT_S} s") from None
    if done.returncode != 0:
        said = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise TraceUnavailable(f"the traced run failed: {said[:300]}")
    plan = json.loads((workdir / "bundle" / "plan.json").read_text())
    files = [f["value"] for f in plan.get("static", {}).get("files", [])]
    # regopy lists the files by base name, sorted by the modules' names (1.5.2; or as they were added).
    for names in (sorted(modules), list(modules)):
        if len(files) == len(names) and all(Path(n).name == f for n, f in zip(names, files, strict=True)):
            return Traced(plan, tuple(names), workdir, tuple(run))
    raise TraceUnavailable("the plan's files are not the modules given")


# -- Walking a trace alongside the plan ------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One executed statement: the plan function it ran in, the statement, and its line in the trace."""

    function: str
    stmt: Mapping[str, Any]
    at: int

    @property
    def kind(self) -> str:
        return str(self.stmt["type"])

    def location(self, files: Sequence[str]) -> tuple[str, int, int] | None:
        """(module, line, column), 1-based, or None for statements the compiler did not place."""
        s = self.stmt["stmt"]
        if "row" not in s or "file" not in s or not 0 <= s["file"] < len(files):
            return None
        return files[s["file"]], int(s["row"]) + 1, int(s.get("col", 0)) + 1


def _same_kind(planned: str, traced: str) -> bool:
    return planned == traced or planned == f"{traced}Stmt"


def steps(lines: Sequence[str], plan: Mapping[str, Any], entry: str) -> Iterator[Step]:
    """Every statement the trace of ``entry`` executed, matched to the plan (``TraceUnavailable`` if they disagree).

    The trace nests: ``++``/``--`` open and close a block, and a block opened at an indent belongs to
    the statement last executed at that indent (a call's function, a Block's inner blocks in turn, a
    scan's, ``not``'s or ``with``'s body); at indent 0 they are the entry point's own blocks.
    """
    funcs = {f["name"]: f for f in plan["funcs"]["funcs"]}
    plans = {p["name"]: p for p in plan["plans"]["plans"]}
    if entry not in plans:
        raise TraceUnavailable(f"no plan for {entry}")
    stack: list[tuple[Mapping[str, Any] | None, int, str]] = []
    owners: dict[int, list[Any]] = {}  # indent -> [statement, blocks opened so far, function]
    top = 0
    for n, text in enumerate(lines):
        body = text.lstrip(" ")
        indent = len(text) - len(body)
        if body == "++":
            block: Mapping[str, Any] | None = None
            function = entry
            if indent == 0:
                blocks = plans[entry]["blocks"]
                block = blocks[top] if top < len(blocks) else None
                top += 1
            elif indent in owners:
                owner = owners[indent]
                stmt, count, function = owner
                owner[1] += 1
                kind, fields = stmt["type"], stmt["stmt"]
                if kind == "CallStmt" and fields["func"] in funcs:
                    function = fields["func"]
                    blocks = funcs[function]["blocks"]
                    block = blocks[count] if count < len(blocks) else None
                elif kind == "BlockStmt":
                    block = fields["blocks"][count] if count < len(fields["blocks"]) else None
                elif "block" in fields:
                    block = fields["block"]
            while stack and stack[-1][1] >= indent:
                stack.pop()
            stack.append((block, indent, function))
        elif body == "--":
            while stack and stack[-1][1] >= indent:
                stack.pop()
        else:
            found = _STMT.match(text)
            if found is None or not stack:
                continue
            block, opened, function = stack[-1]
            if block is None or len(found.group(1)) != opened + 1:
                continue
            index = int(found.group(2))
            stmts = block["stmts"]
            if index >= len(stmts) or not _same_kind(stmts[index]["type"], found.group(3)):
                raise TraceUnavailable(f"trace line {n + 1} ({body[:60]}) does not match the plan")
            owners[indent] = [stmts[index], 0, function]
            yield Step(function, stmts[index], n)


def reads(lines: Sequence[str], at: int) -> list[str]:
    """The values a statement read (``frame[k] -> value`` lines right after it in the trace)."""
    values: list[str] = []
    for text in lines[at + 1 :]:
        found = _READ.match(text)
        if found:
            values.append(found.group(1))
        elif _STMT.match(text) or text.strip() in {"++", "--"}:
            break
    return values


def _all_statements(blocks: Sequence[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    for block in blocks:
        for stmt in block["stmts"]:
            yield stmt
            fields = stmt["stmt"]
            if "blocks" in fields:
                yield from _all_statements(fields["blocks"])
            if "block" in fields:
                yield from _all_statements([fields["block"]])


# -- Coverage --------------------------------------------------------------------------------------


def _ranges(lines: Sequence[int]) -> str:
    parts: list[str] = []
    start = prev = None
    for line in sorted(lines):
        if prev is not None and line == prev + 1:
            prev = line
            continue
        if start is not None:
            parts.append(f"{start}-{prev}" if start != prev else str(start))
        start = prev = line
    if start is not None:
        parts.append(f"{start}-{prev}" if start != prev else str(start))
    return ", ".join(parts)


@dataclass(frozen=True)
class FileCoverage:
    file: str
    covered: tuple[int, ...]
    not_covered: tuple[int, ...]

    @property
    def percent(self) -> float:
        total = len(self.covered) + len(self.not_covered)
        return round(100.0 * len(self.covered) / total, 1) if total else 100.0


@dataclass(frozen=True)
class Coverage:
    files: tuple[FileCoverage, ...]

    @property
    def percent(self) -> float:
        covered = sum(len(f.covered) for f in self.files)
        total = covered + sum(len(f.not_covered) for f in self.files)
        return round(100.0 * covered / total, 1) if total else 100.0

    def to_json(self) -> dict[str, Any]:
        return {
            "percent": self.percent,
            "files": {
                f.file: {"percent": f.percent, "covered": list(f.covered), "not_covered": list(f.not_covered)}
                for f in self.files
            },
        }

    def render(self, *, verbose: bool = False) -> str:
        width = max((len(f.file) for f in self.files), default=10)
        out = ["Coverage of the policy by its tests (lines with Rego expressions):"]
        for f in self.files:
            lines = len(f.covered) + len(f.not_covered)
            out.append(f"  {f.file:<{width}}  {f.percent:5.1f}%  ({len(f.covered)}/{lines} lines)")
            if f.not_covered:
                out.append(f"  {'':<{width}}  not covered: {_ranges(f.not_covered)}")
            if verbose and f.covered:
                out.append(f"  {'':<{width}}  covered:     {_ranges(f.covered)}")
        out.append(f"  {'total':<{width}}  {self.percent:5.1f}%")
        return "\n".join(out)


def rule_entrypoints(modules: Mapping[str, str]) -> list[str]:
    """An entry point for every rule (not function) of the policy modules, so unreached rules are compiled."""
    found: set[str] = set()
    for name, source in modules.items():
        package = _PACKAGE.search(source)
        if name.endswith("_test.rego") or package is None:
            continue
        for rule in _RULE.finditer(source):
            if rule.group(1) not in _KEYWORDS:
                found.add(f"{package.group(1).replace('.', '/')}/{rule.group(1)}")
    return sorted(found)


def _bookkeeping(func: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """The statements in a function's own blocks that only reset, start, test or return its value."""
    value = func.get("return")
    for block in func["blocks"]:
        for stmt in block["stmts"]:
            fields = stmt["stmt"]
            if stmt["type"] in _BOOKKEEPING and value in (fields.get("target"), fields.get("source")):
                yield stmt


def measure(traced: Traced, policy_files: Sequence[str]) -> Coverage:
    """Line coverage of ``policy_files`` from a traced run of every test."""
    wanted = set(policy_files)
    coverable: dict[str, set[int]] = {f: set() for f in policy_files}
    funcs = traced.plan["funcs"]["funcs"]
    bookkeeping = {id(s) for f in funcs for s in _bookkeeping(f)}
    for stmt in (s for f in funcs for s in _all_statements(f["blocks"])):
        if id(stmt) in bookkeeping:
            continue
        where = Step("", stmt, 0).location(traced.files)
        if where is not None and where[0] in wanted:
            coverable[where[0]].add(where[1])
    covered: dict[str, set[int]] = {f: set() for f in policy_files}
    for i, entry in enumerate(traced.runs):
        for step in steps(traced.trace(i), traced.plan, entry):
            if id(step.stmt) in bookkeeping:
                continue
            where = step.location(traced.files)
            if where is not None and where[0] in wanted:
                covered[where[0]].add(where[1])
    return Coverage(
        tuple(
            FileCoverage(f, tuple(sorted(covered[f])), tuple(sorted(coverable[f] - covered[f])))
            for f in policy_files
            if coverable[f]
        )
    )


def coverage(directory: Path, *, entrypoints: Sequence[str]) -> Coverage:
    """Line coverage of the policy modules under ``directory`` by the Rego tests ``entrypoints`` (those
    ``trust.policy.testing`` ran; ``TraceUnavailable`` if it cannot tell)."""
    from trust.policy.embedded import policy_data, read_modules

    modules = read_modules(directory, tests=True)
    tests = list(entrypoints)
    policy_files = [name for name in modules if not name.endswith("_test.rego")]
    with tempfile.TemporaryDirectory(prefix="trust-coverage-") as tmp:
        build = sorted(set(tests) | set(rule_entrypoints(modules)))
        try:
            traced = traced_run(modules, policy_data(directory), build, tests, Path(tmp))
        except TraceUnavailable:
            # Some rule may not be an entry point regopy accepts: fall back to the tests alone.
            traced = traced_run(modules, policy_data(directory), tests, tests, Path(tmp))
        return measure(traced, policy_files)


if __name__ == "__main__":
    sys.exit(_worker(sys.argv[1]))
