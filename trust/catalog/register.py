"""Bind registrations to where the data lives: fill placeholders, list files, read footers.

Only metadata is read (file sizes and footers). Columns the registration names must exist in
every file with one type; columns in the files but not registered are not queryable.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping

from trust.catalog.model import Catalog, Column, Dataset
from trust.engine.footers import expand, read_footers
from trust.engine.sandbox import Access, Limits, Secret
from trust.errors import ConfigurationError

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
    """Exactly the registered files of ``datasets`` and the secrets to read them."""
    paths: list[str] = []
    secrets: dict[tuple[str, str], Secret] = {}
    for ds in datasets:
        paths.extend(f.url for f in ds.files)
        if ds.credentials and ds.files:
            scope = _scope(ds.files[0].url)
            if (ds.credentials, scope) not in secrets:
                secret = secret_for(ds.credentials, credentials, scope)
                secrets[(ds.credentials, scope)] = dataclasses.replace(secret, name=f"s{len(secrets)}")
    return Access(paths=tuple(paths), secrets=tuple(secrets.values()))


def register(
    catalog: Catalog,
    variables: Mapping[str, str],
    credentials: Mapping[str, Mapping[str, str]],
    limits: Limits,
) -> Catalog:
    """The catalogue with every dataset's files and footers discovered at their locations."""
    located: dict[str, tuple[str, ...]] = {}
    secrets: list[Secret] = []
    directories: list[str] = []
    for ds in catalog:
        locs = tuple(fill_placeholders(loc, variables, ds.id) for loc in ds.location)
        located[ds.id] = locs
        directories.extend(_prefix(loc) for loc in locs)
        if ds.credentials:
            secrets.append(
                dataclasses.replace(secret_for(ds.credentials, credentials, _scope(locs[0])), name=f"s{len(secrets)}")
            )
    discovery = Access(directories=tuple(sorted(set(directories))), secrets=tuple(secrets))
    files = {ds_id: expand(locs, discovery, limits) for ds_id, locs in located.items()}
    for ds_id, urls in files.items():
        if not urls:
            raise ConfigurationError(f"Dataset {ds_id}: no files found at {', '.join(located[ds_id])}.")
    footers = read_footers(tuple(u for urls in files.values() for u in urls), discovery, limits)
    by_url = {f.url: f for f in footers}
    out: dict[str, Dataset] = {}
    for ds in catalog:
        ds_files = tuple(by_url[u] for u in files[ds.id])
        out[ds.id] = dataclasses.replace(
            ds, location=located[ds.id], files=ds_files, columns=_typed_columns(ds, ds_files)
        )
    return Catalog(out)


def _typed_columns(ds: Dataset, files: tuple) -> tuple[Column, ...]:
    types: dict[str, set[str]] = {}
    for f in files:
        for name, typ in f.columns:
            types.setdefault(name, set()).add(typ)
    columns = []
    for col in ds.columns:
        seen = types.get(col.name)
        if not seen:
            raise ConfigurationError(
                f"Dataset {ds.id}: registered column {col.name!r} is not in the files at its location."
            )
        if len(seen) > 1:
            raise ConfigurationError(
                f"Dataset {ds.id}: column {col.name!r} has different types across files: {sorted(seen)}."
            )
        columns.append(dataclasses.replace(col, type=seen.pop()))
    return tuple(columns)
