"""The decision point evaluated in-process by regopy: compiled once into a bundle, then reused.

    >>> policy = EmbeddedPolicy(Path("policies"))                        # doctest: +SKIP
    >>> policy.decide({"identity": {...}, "project": {...}, ...}).allow  # doctest: +SKIP

When the policy defines ``data.trust.partial_decision`` (the trust's does: see policies/trust.rego),
regopy evaluates that, and ``trust.policy.thresholds`` works out the disclosure thresholds from the
sources it names, as ``data.trust.decision`` would: together a third cheaper than the whole decision.

Any failure to evaluate (a runtime error, a conflict between rules, an undefined decision, a malformed
threshold) becomes a denial naming ``trust.policy_error``: the policy fails closed.

regopy 1.5.2 notes, found the hard way and handled here: ``Output.__str__`` can crash the
process after a failed ad hoc ``query()``, and a runtime error can come back as an "ok" output
whose text is an error tree. So evaluation goes through the bundle API and reads outputs with
the low-level calls below, checking each case. A rule is evaluated as an entry point rather than as a
query: a query wraps its value in a result that regopy copies and serialises once more.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import sys
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence, Set
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import regopy
from regopy import rego_shared as _c

from trust.errors import ConfigurationError
from trust.policy.data import policy_data
from trust.policy.decision import Decision
from trust.policy.thresholds import thresholds

QUERY = "data.trust.decision"
PARTIAL = "data.trust.partial_decision"  # the decision but for its thresholds (see policies/trust.rego)
UNDEFINED = object()
CACHE_SIZE = 2048
_ERRORMSG = re.compile(r"\(errormsg \d+:([^\n]*)\)")
_RULE_REF = re.compile(r"data(\.[A-Za-z_]\w*)+")
_TRUST_PACKAGE = re.compile(r"^package\s+trust\s*$", re.M)
_PARTIAL_RULE = re.compile(r"^partial_decision\s*:=", re.M)

# The C library logs compile errors to stdout; the trust reports them itself.
regopy.set_default_log_level("None")


class PolicyFailure(Exception):
    """The policy could not be evaluated (a fault in the policy or its data, never the query)."""


@contextmanager
def engine_output() -> Iterator[list[str]]:
    """Capture what the engine prints to stdout (compile errors with file:line, rule conflicts).

    For the policy owners' tools only: it swaps file descriptor 1, so it is not for servers.
    The captured text is appended to the yielded list when the block ends.
    """
    captured: list[str] = []
    libc = ctypes.CDLL(None)
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 1)
        try:
            yield captured
        finally:
            libc.fflush(None)
            os.dup2(saved, 1)
            os.close(saved)
            sink.seek(0)
            captured.append(sink.read().decode("utf-8", "replace"))


def policy_modules(directory: Path) -> list[Path]:
    """Every Rego module under ``directory`` except tests (``*_test.rego``)."""
    return sorted(p for p in directory.rglob("*.rego") if not p.name.endswith("_test.rego"))


def test_modules(directory: Path) -> list[Path]:
    """The policy owners' unit tests: every ``*_test.rego`` under ``directory``."""
    return sorted(directory.rglob("*_test.rego"))


test_modules.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def read_modules(directory: Path, *, tests: bool = False) -> dict[str, str]:
    """Module sources keyed by their path relative to ``directory`` (so errors name the file)."""
    paths = policy_modules(directory) + (test_modules(directory) if tests else [])
    return {str(p.relative_to(directory)): p.read_text() for p in paths}


def compile_error(exc: regopy.RegoError) -> str:
    """The readable part of a regopy compile error."""
    found = _ERRORMSG.findall(str(exc))
    return "; ".join(found) if found else str(exc).strip()


def defines_partial_decision(modules: Mapping[str, str]) -> bool:
    """Whether the modules define ``data.trust.partial_decision`` (``partial_decision := ...`` in ``package trust``)."""
    return any(_TRUST_PACKAGE.search(source) and _PARTIAL_RULE.search(source) for source in modules.values())


def entrypoint(query: str) -> str | None:
    """The bundle entry point for a query that names a rule (``data.trust.decision`` -> ``trust/decision``)."""
    return query.removeprefix("data.").replace(".", "/") if _RULE_REF.fullmatch(query) else None


def to_input(document: Any) -> regopy.Input:
    """``regopy.Input(document)``, built with the engine's input calls directly: 0.07 against 0.12 ms.

    The same calls in the same order as regopy's own conversion (plain JSON types first, then regopy's
    order of checks for anything else), so the engine sees the same document.
    """
    lib = _c.rego
    handle = lib.regoNewInput()
    string, integer, floating = lib.regoInputString, lib.regoInputInt, lib.regoInputFloat
    boolean, null, item = lib.regoInputBoolean, lib.regoInputNull, lib.regoInputObjectItem
    obj, array, a_set = lib.regoInputObject, lib.regoInputArray, lib.regoInputSet

    def add(value: Any) -> None:
        kind = type(value)
        if kind is str:
            code = string(handle, value.encode("utf-8"))
        elif kind is dict:
            for k, v in value.items():
                add(k)
                add(v)
                if item(handle):
                    raise regopy.RegoError("Unable to create input")
            code = obj(handle, len(value))
        elif kind is list:
            for v in value:
                add(v)
            code = array(handle, len(value))
        elif value is True or value is False:
            code = boolean(handle, value)
        elif isinstance(value, int):
            code = integer(handle, value)
        elif isinstance(value, float):
            code = floating(handle, value)
        elif isinstance(value, str):
            code = string(handle, value.encode("utf-8"))
        elif value is None:
            code = null(handle)
        elif isinstance(value, Set):
            for v in value:
                add(v)
            code = a_set(handle, len(value))
        elif isinstance(value, Mapping):
            add(dict(value))
            return
        elif isinstance(value, Sequence):
            add(list(value))
            return
        else:
            raise ValueError(f"Cannot convert object of type {kind} to rego input")
        if code:
            raise regopy.RegoError("Unable to create input", code)

    try:
        add(document)
    except BaseException:
        lib.regoFreeInput(handle)
        raise
    converted = regopy.Input.__new__(regopy.Input)  # adopts the handle; Input.__del__ frees it
    converted._impl = handle
    return converted


def new_interpreter(modules: Mapping[str, str], data: Mapping[str, Any]) -> regopy.Interpreter:
    rego = regopy.Interpreter()
    for name, source in modules.items():
        rego.add_module(name, source)
    rego.add_data_json(json.dumps(data))
    return rego


def run(rego: regopy.Interpreter, bundle: regopy.Bundle, entrypoint: str | None = None) -> Any:
    """Evaluate a built bundle against the interpreter's current input.

    Returns the value, ``UNDEFINED``, or raises ``PolicyFailure`` with the engine's message.
    """
    impl = (
        _c.rego_bundle_query(rego._impl, bundle._impl)
        if entrypoint is None
        else _c.rego_bundle_query_entrypoint(rego._impl, bundle._impl, entrypoint)
    )
    if not impl:
        raise PolicyFailure(_c.rego_get_error(rego._impl) or "the engine returned no output")
    try:
        if not _c.rego_output_ok(impl):
            # Reading the text of a failed output is not safe in every case; the interpreter's
            # own error is. Conflicting rule values leave it empty.
            raise PolicyFailure(_c.rego_get_error(rego._impl) or "a rule produced conflicting values or an error")
        text = _c.rego_output_string(impl)
    finally:
        _c.rego_free_output(impl)
    if text == "undefined":
        return UNDEFINED
    if text.startswith("(error"):
        found = _ERRORMSG.findall(text)
        raise PolicyFailure("; ".join(found) or "runtime error")
    results = json.loads(text)
    if isinstance(results, list):
        if len(results) != 1:
            raise PolicyFailure(f"the query gave {len(results)} results, expected one")
        results = results[0]
    expressions = results.get("expressions") if isinstance(results, dict) else None
    if not expressions:
        return UNDEFINED
    return expressions[0]


class EmbeddedPolicy:
    """Rego modules and data, built once into a regopy bundle. Thread-safe (one evaluation at a time).

    Decisions are cached by their exact input document: the policy and its data do not change
    for the life of this object, and the input carries the date, so an equal input has an equal
    decision. A changed policy means a new ``EmbeddedPolicy``.

    Without ``query`` it decides ``data.trust.decision``, by way of ``data.trust.partial_decision``
    when the policy defines it; with ``query`` it evaluates exactly that document.
    """

    backend = "embedded"

    def __init__(
        self,
        directory: Path | None = None,
        *,
        modules: Mapping[str, str] | None = None,
        data: Mapping[str, Any] | None = None,
        query: str | None = None,
        cache_size: int = CACHE_SIZE,
    ) -> None:
        if directory is not None:
            modules = read_modules(directory) if modules is None else modules
            data = policy_data(directory) if data is None else data
        if not modules:
            raise ConfigurationError(f"No Rego modules in {directory}. Set policies_dir in trust.toml.")
        self.directory = directory
        self.query = QUERY if query is None else query
        self.partial = query is None and defines_partial_decision(modules)
        self.cache_size = cache_size
        self._disclosure = (data or {}).get("disclosure")
        self._entrypoint = entrypoint(PARTIAL if self.partial else self.query)
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, Decision] = OrderedDict()
        try:
            self._rego = new_interpreter(modules, data or {})
            if self._entrypoint is None:
                self._bundle = self._rego.build(self.query)
            else:
                self._bundle = self._rego.build(None, [self._entrypoint])
        except regopy.RegoError as exc:
            raise ConfigurationError(
                f"The policy does not compile: {compile_error(exc)}. Run `trust policy check`."
            ) from None
        if not self._bundle.ok():
            raise ConfigurationError("The policy does not compile. Run `trust policy check`.")

    def describe(self) -> str:
        return f"embedded regopy {regopy.build_info().split()[0]}, {self.directory or 'in-memory modules'}"

    def evaluate(self, document: Mapping[str, Any]) -> Any:
        """The raw value of the query for one input, or ``UNDEFINED``; ``PolicyFailure`` on error.

        By way of the partial decision, the value is the whole ``data.trust.decision``
        (``ConfigurationError`` if a threshold is malformed).
        """
        with self._lock:
            # Keep the Input alive while the interpreter may read it. (Converting the dict takes a fifth of
            # the time of set_input_term parsing the same document as JSON text.)
            self._input = to_input(dict(document))
            self._rego.set_input(self._input)
            value = run(self._rego, self._bundle, self._entrypoint)
        if value is False:  # a query's value is undefined when false; an entry point's is not
            return UNDEFINED
        return self._complete(value) if self.partial and value is not UNDEFINED else value

    def _complete(self, partial: Any) -> Any:
        """``data.trust.decision`` from the partial decision: its thresholds worked out as the policy does."""
        if not isinstance(partial, Mapping) or not isinstance(partial.get("obligations"), Mapping):
            # Never a decision without thresholds: Decision.from_json would give it the built-in defaults.
            raise ConfigurationError(f"{PARTIAL} must be an object with obligations.")
        decision = {k: v for k, v in partial.items() if k != "contributions"}
        disclosure = thresholds(partial.get("disclosure_rules"), partial.get("contributions"), self._disclosure)
        decision["obligations"] = {**partial["obligations"], "disclosure": disclosure}
        return decision

    def decide(self, document: Mapping[str, Any]) -> Decision:
        """The decision for one input document; any failure denies (fails closed)."""
        try:
            key = json.dumps(document, sort_keys=True, separators=(",", ":"))
            with self._lock:
                if key in self._cache:
                    self._cache.move_to_end(key)
                    return self._cache[key]
            value = self.evaluate(document)
            if value is UNDEFINED:
                raise PolicyFailure(f"{self.query} is undefined for this input")
            decision = Decision.from_json(value)
            with self._lock:
                self._cache[key] = decision
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
            return decision
        except (PolicyFailure, ConfigurationError, regopy.RegoError, ValueError, TypeError) as exc:
            return Decision.refused(
                "trust.policy_error",
                f"The policy could not decide ({exc}), so the query is refused.",
                "Policy owners: run `trust policy check` and `trust policy test`.",
            )
