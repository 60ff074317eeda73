"""Bind one registration to where its data lives: fill placeholders, list files, read footers,
ask the servers for each file's version.

Only metadata is read (file sizes, footers, HEAD). Columns the registration names must exist in
every file with one type (and the type it pins, if any); columns in the files but not registered
are not queryable. Each dataset binds on its own (``trust.service.catalogue`` runs them side by
side), so one department that is down, hanging or changed never stops another's.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping

from trust.catalog.model import Column, Dataset, FileFooter
from trust.engine.footers import expand, read_footers
from trust.engine.probe import ProbeFailed, probe
from trust.engine.sandbox import Access, Limits, Secret
from trust.errors import ConfigurationError, TrustError

_PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")


def fill_placeholders(location: str, variables: Mapping[str, str], dataset_id: str) -> str:
    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in variables:
            raise ConfigurationError(
                f"Dataset {dataset_id}: location {location!r} needs {name}; set it under [locations] "
                f"in trust.toml or as TRUST_LOCATION_{name}."
            )
        return variables[name].rstrip("/")

    return _PLACEHOLDER.sub(sub, location)


def secret_for(name: str, credentials: Mapping[str, Mapping[str, str]], scope: str) -> Secret:
    if name not in credentials:
        raise ConfigurationError(
            f"Credential {name!r} is not held by this trust. Add [credentials.{name}] to trust.toml."
        )
    params = dict(credentials[name])
    kind = params.pop("type", "s3")
    return Secret(name=name, kind=kind, scope=scope, params=tuple(sorted(params.items())))


def _scope(url: str) -> str:
    if url.startswith("s3://"):
        return "s3://" + url[5:].split("/", 1)[0]
    m = re.match(r"^(https?://[^/]+)", url)
    return m.group(1) if m else url


def _prefix(url: str) -> str:
    return url.rsplit("/", 1)[0] + "/"


def access_for(datasets: Iterable[Dataset], credentials: Mapping[str, Mapping[str, str]]) -> Access:
    """Exactly the registered files of ``datasets`` and the secrets to read them (the same ``Access``
    whatever the order of ``datasets``, so ready sandboxes match)."""
    paths: list[str] = []
    secrets: dict[tuple[str, str], Secret] = {}
    for ds in sorted(datasets, key=lambda d: d.id):
        paths.extend(f.url for f in ds.files)
        if ds.credentials and ds.files:
            scope = _scope(ds.files[0].url)
            if (ds.credentials, scope) not in secrets:
                secret = secret_for(ds.credentials, credentials, scope)
                secrets[(ds.credentials, scope)] = dataclasses.replace(secret, name=f"s{len(secrets)}")
    return Access(paths=tuple(paths), secrets=tuple(secrets.values()))


class BindFailed(Exception):
    """A dataset could not be bound: ``reason`` may be shown to its users, ``detail`` is for operators."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason, self.detail = reason, detail or reason


def _department_failure(ds: Dataset, exc: BaseException, timeout_s: float) -> BindFailed:
    text = f"{type(exc).__name__}: {exc}"
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    raw = f"{type(cause).__name__}: {cause}".lower()
    if "timeout" in raw or "timed out" in raw:
        return BindFailed(f"{ds.department}'s server did not answer within {timeout_s:g} s", text)
    return BindFailed(f"{ds.department}'s server could not be reached or read", text)


def bind_dataset(
    ds: Dataset,
    variables: Mapping[str, str],
    credentials: Mapping[str, Mapping[str, str]],
    limits: Limits,
) -> Dataset:
    """``ds`` with its locations filled, its files listed, their footers read and their versions asked.

    Columns the files lack get the type ``""`` (a change the caller names); raises ``BindFailed``
    when the department cannot be reached or read, or the trust is not configured to reach it."""
    try:
        locs = tuple(fill_placeholders(loc, variables, ds.id) for loc in ds.location)
        secrets = (
            (dataclasses.replace(secret_for(ds.credentials, credentials, _scope(locs[0])), name="s0"),)
            if ds.credentials
            else ()
        )
    except ConfigurationError as exc:
        raise BindFailed("the trust is not configured to reach it; its operators have been told", exc.message) from exc
    discovery = Access(directories=tuple(sorted({_prefix(loc) for loc in locs})), secrets=secrets)
    try:
        urls = expand(locs, discovery, limits)
        if not urls:
            raise BindFailed(f"no files at its location at {ds.department}", f"no files match {', '.join(locs)}")
        footers = read_footers(urls, discovery, limits)
        versions = probe(urls, secrets, limits.http_timeout_s)
    except BindFailed:
        raise
    except (TrustError, ProbeFailed) as exc:
        raise _department_failure(ds, exc, limits.http_timeout_s) from exc
    files = tuple(
        dataclasses.replace(f, etag=versions[f.url].etag, last_modified=versions[f.url].last_modified)
        if f.url in versions
        else f
        for f in footers
    )
    return dataclasses.replace(
        ds,
        location=locs,
        files=files,
        globbed=tuple(loc for loc in locs if any(ch in loc for ch in "*?[")),
        columns=typed_columns(ds, files),
    )


def typed_columns(ds: Dataset, files: tuple[FileFooter, ...]) -> tuple[Column, ...]:
    """The registered columns with the type the files give each: ``""`` where they lack it, and
    every type seen, joined with ``|``, where files disagree (both are changes ``problems`` names)."""
    types: dict[str, set[str]] = {}
    for f in files:
        for name, typ in f.columns:
            types.setdefault(name, set()).add(typ)
    return tuple(dataclasses.replace(col, type="|".join(sorted(types.get(col.name, ())))) for col in ds.columns)


def problems(ds: Dataset) -> list[str]:
    """What stops a bound dataset from being registered as it is: its files lack a registered column,
    disagree on a column's type, or give a column another type than the registration pins."""
    out = []
    for col in ds.columns:
        if not col.type:
            out.append(f"column {col.name}: not in the files")
        elif "|" in col.type:
            out.append(f"column {col.name}: types differ across files ({col.type.replace('|', ', ')})")
        elif col.pinned_type and col.type != col.pinned_type:
            out.append(f"column {col.name}: type {col.type} in the files, pinned as {col.pinned_type}")
    return out
