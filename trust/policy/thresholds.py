"""A decision's disclosure thresholds, worked out as ``disclosure`` in policies/trust.rego does.

The embedded evaluator asks regopy for ``data.trust.partial_decision``: the decision without its
thresholds, naming their sources (``disclosure_rules``) and giving the modules' contributions. Taking
the strictest of each threshold costs a quarter of every decision in regopy (it copies its whole frame
for each ``max``, and writes every source's settings out again); here it is a few microseconds.

The sources are the places in ``disclosure.json`` that ``disclosure_rules`` names
(``disclosure.defaults``, ``disclosure.departments.<department>``, ``disclosure.datasets.<dataset>``)
and the contributions, each filled in from the defaults; the strictest value of each threshold wins,
and suppression instead of noise if any source requires it. The answer must be the ``disclosure`` of
``data.trust.decision``, which OPA and the policy owners' tests read: tests/policy/test_thresholds.py
compares the two on every policy case and on variations of the policy data, and ``trust policy check``
on a probe of every project and organisation. A source that is not what the contract says (settings
that are not an object, a threshold that is not a number, a contribution without its rule) refuses
the query, where Rego might skip it.

    >>> disclosure = {"defaults": {"min_units": 10, "dominance": {"n": 2, "k": 0.9}, "p_percent": 0.1,
    ...     "rounding_base": 0, "perturbation": {"method": "noise", "max_deviation": 10, "variance": 2.0,
    ...     "top_share": 0.2, "cell_share": 0.5, "magnitude_variance": 0.5, "small_values": 0}},
    ...     "departments": {"DESNZ": {"dominance": {"k": 0.85}}}}
    >>> t = thresholds(["disclosure.defaults", "disclosure.departments.DESNZ", "hmrc.employer_level"],
    ...                [{"rule": "hmrc.employer_level", "min_units": 20}], disclosure)
    >>> t["min_units"], t["dominance"], t["perturbation"]["method"]
    (20, {'n': 2, 'k': 0.85}, 'noise')
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from trust.errors import ConfigurationError

CONFIGURED = "disclosure."  # the names of the sources disclosure.json sets; no contribution's rule starts so
_NESTED = ("dominance", "perturbation")
# The strictest value of each threshold: the most units, the largest n and smallest k, the most noise.
STRICTEST = {
    ("min_units",): max,
    ("dominance", "n"): max,
    ("dominance", "k"): min,
    ("p_percent",): max,
    ("rounding_base",): max,
    ("perturbation", "max_deviation"): max,
    ("perturbation", "variance"): max,
    ("perturbation", "top_share"): max,
    ("perturbation", "cell_share"): max,
    ("perturbation", "magnitude_variance"): max,
    ("perturbation", "small_values"): max,
}
_MISSING = object()


def thresholds(rules: Any, contributions: Any, disclosure: Any) -> dict[str, Any]:
    """The strictest thresholds over the sources ``rules`` names in ``disclosure`` (the policy data
    ``data.disclosure``) and the ``contributions``; ``ConfigurationError`` if a source is malformed."""
    if not isinstance(rules, list) or not isinstance(contributions, list) or not isinstance(disclosure, Mapping):
        raise ConfigurationError("The policy's partial decision must list disclosure_rules and contributions.")
    sources: list[Any] = []
    contributed: set[str] = set()
    for c in contributions:
        if not isinstance(c, Mapping) or "rule" not in c:
            raise ConfigurationError(f"The policy returned a disclosure contribution without a rule: {c!r}.")
        if isinstance(c["rule"], str) and c["rule"].startswith(CONFIGURED):
            raise ConfigurationError(
                f"A disclosure contribution is named {c['rule']!r}; names starting {CONFIGURED!r} are disclosure.json's."
            )
        sources.append(c)
        contributed.add(_key(c["rule"]))
    sources += [
        _configured(rule, disclosure) for rule in rules if isinstance(rule, str) and rule.startswith(CONFIGURED)
    ]
    unknown = [r for r in rules if not (isinstance(r, str) and r.startswith(CONFIGURED)) and _key(r) not in contributed]
    if unknown:
        raise ConfigurationError(f"The policy named disclosure sources it did not give: {unknown!r}.")
    return strictest(sources, disclosure.get("defaults"))


def strictest(sources: Iterable[Any], defaults: Any) -> dict[str, Any]:
    """The strictest of each threshold over ``sources`` (settings objects), each filled in from ``defaults``."""
    if not isinstance(defaults, Mapping) or any(not isinstance(defaults.get(k), Mapping) for k in _NESTED):
        raise ConfigurationError("The disclosure defaults (data.disclosure.defaults) are missing or incomplete.")
    full = []
    for s in sources:
        if not isinstance(s, Mapping) or any(not isinstance(s.get(k, {}), Mapping) for k in _NESTED):
            raise ConfigurationError(f"Disclosure thresholds that are not an object: {s!r}.")
        full.append({**defaults, **s, **{k: {**defaults[k], **s.get(k, {})} for k in _NESTED}})
    out: dict[str, Any] = {k: {} for k in _NESTED}
    for path, pick in STRICTEST.items():
        values = [v for f in full if (v := _at(f, path)) is not _MISSING]
        if not values:
            raise ConfigurationError(
                f"No source sets the disclosure threshold {'.'.join(path)}, not even the defaults."
            )
        if any(isinstance(v, bool) or not isinstance(v, int | float) for v in values):
            raise ConfigurationError(
                f"The disclosure threshold {'.'.join(path)} is not a number in every source: {values!r}."
            )
        (out if len(path) == 1 else out[path[0]])[path[-1]] = pick(values)
    # The cell key method by default; suppression instead if any source requires it.
    out["perturbation"]["method"] = (
        "suppress" if any(f["perturbation"].get("method") == "suppress" for f in full) else "noise"
    )
    return out


def _configured(rule: str, disclosure: Mapping[str, Any]) -> Any:
    """The settings at the place in disclosure.json a source is named by (``configured_settings`` in
    policies/trust.rego): ``disclosure.datasets.dwp.pip_awards`` is ``datasets["dwp.pip_awards"]``."""
    section, _, key = rule.removeprefix(CONFIGURED).partition(".")
    found: Any = None
    if section == "defaults" and not key:
        found = disclosure.get(section)
    elif section in ("departments", "datasets") and isinstance(disclosure.get(section), Mapping):
        found = disclosure[section].get(key)
    if found is None:
        raise ConfigurationError(f"The policy named disclosure source {rule!r}, which disclosure.json does not set.")
    return found


def _at(settings: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = settings
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return _MISSING
        value = value[key]
    return value


def _key(value: Any) -> str:
    return repr(value)
