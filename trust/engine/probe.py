"""The servers' own versions of files: HTTP ``HEAD`` (ETag, Last-Modified, Content-Length) and S3
``HeadObject`` (ETag, size), with the department's credentials and a hard time limit.

DuckDB reads the data but does not say which version of an object it read; registration records
these alongside the footers' hashes (``trust.catalog.versions``), so a file rewritten to the same
size and the same row-group statistics is still seen to have changed.
"""

from __future__ import annotations

import functools
import glob as globlib
import os
import re
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

from trust.engine.sandbox import Secret


@dataclass(frozen=True)
class ObjectVersion:
    size: int | None
    etag: str | None
    last_modified: str | None


class ProbeFailed(Exception):
    """A server did not answer a HEAD (down, hanging, refusing): the cause, for the operator's log."""


_lock = threading.Lock()


@functools.lru_cache(maxsize=32)
def _s3_client(params: tuple[tuple[str, str], ...], timeout_s: float) -> Any:
    import boto3  # only where a department keeps its data in S3
    from botocore.config import Config as BotoConfig

    p = dict(params)
    use_ssl = str(p.get("use_ssl", "true")).lower() in {"1", "true", "yes"}
    endpoint = p.get("endpoint")
    with _lock:  # boto3's session set-up is not thread-safe
        return boto3.session.Session().client(
            "s3",
            endpoint_url=(("https://" if use_ssl else "http://") + endpoint) if endpoint else None,
            aws_access_key_id=p.get("key_id"),
            aws_secret_access_key=p.get("secret"),
            aws_session_token=p.get("session_token"),
            region_name=p.get("region") or "us-east-1",
            config=BotoConfig(
                connect_timeout=timeout_s,
                read_timeout=timeout_s,
                retries={"max_attempts": 1},
                s3={"addressing_style": "path" if p.get("url_style") == "path" else "auto"},
            ),
        )


def _secret_for(url: str, secrets: Iterable[Secret]) -> Secret | None:
    found = [s for s in secrets if url.startswith(s.scope)]
    return max(found, key=lambda s: len(s.scope)) if found else None


def probe_one(url: str, secrets: Iterable[Secret], timeout_s: float) -> ObjectVersion:
    secret = _secret_for(url, secrets)
    try:
        if url.startswith("s3://"):
            bucket, _, key = url[5:].partition("/")
            client = _s3_client(secret.params if secret else (), timeout_s)
            head = client.head_object(Bucket=bucket, Key=key)
            return ObjectVersion(int(head["ContentLength"]), str(head.get("ETag") or "") or None, None)
        if url.startswith(("http://", "https://")):
            headers = {}
            token = dict(secret.params).get("bearer_token") if secret and secret.kind == "http" else None
            if token:
                headers["Authorization"] = f"Bearer {token}"
            r = httpx.head(url, headers=headers, timeout=timeout_s, follow_redirects=False)
            r.raise_for_status()
            length = r.headers.get("content-length")
            return ObjectVersion(
                int(length) if length and length.isdigit() else None,
                r.headers.get("etag"),
                r.headers.get("last-modified"),
            )
        stat = os.stat(url.removeprefix("file://"))
        return ObjectVersion(stat.st_size, None, str(stat.st_mtime_ns))
    except Exception as exc:  # noqa: BLE001 - any failure is the department's, named by the caller
        raise ProbeFailed(f"{type(exc).__name__}: {exc}") from exc


def probe(urls: Iterable[str], secrets: Iterable[Secret], timeout_s: float) -> dict[str, ObjectVersion]:
    """Each URL's version, asked in parallel; raises ``ProbeFailed`` for the first that fails."""
    urls, secrets = list(urls), list(secrets)
    if not urls:
        return {}
    with ThreadPoolExecutor(max_workers=min(8, len(urls)), thread_name_prefix="trust-probe") as pool:
        found = list(pool.map(lambda u: probe_one(u, secrets, timeout_s), urls))
    return dict(zip(urls, found))


def _pattern(glob: str) -> re.Pattern[str]:
    """DuckDB's glob as a regular expression: ``*`` and ``?`` stay within one path segment, ``**`` crosses."""
    out, i = [], 0
    while i < len(glob):
        ch = glob[i]
        if glob.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = glob.find("]", i + 1)
            if end == -1:
                out.append(re.escape(ch))
            else:
                out.append("[" + glob[i + 1 : end].replace("!", "^", 1) + "]")
                i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("".join(out) + r"\Z")


def list_matching(globs: Iterable[str], secrets: Iterable[Secret], timeout_s: float) -> tuple[str, ...]:
    """The files the patterns match now, listed from the server itself (S3 ListObjectsV2, or the local
    directory); sorted. Raises ``ProbeFailed`` when the server does not answer."""
    secrets = list(secrets)
    found: set[str] = set()
    try:
        for glob in globs:
            regex = _pattern(glob)
            first = min((glob.find(ch) for ch in "*?[" if ch in glob), default=len(glob))
            if glob.startswith("s3://"):
                bucket, _, key_glob = glob[5:].partition("/")
                prefix = key_glob[: max(0, first - 6 - len(bucket))]
                secret = _secret_for(glob, secrets)
                client = _s3_client(secret.params if secret else (), timeout_s)
                for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                    for obj in page.get("Contents", ()):
                        url = f"s3://{bucket}/{obj['Key']}"
                        if regex.match(url):
                            found.add(url)
            elif not glob.startswith(("http://", "https://")):
                local = glob.removeprefix("file://")
                found.update(p for p in globlib.glob(local, recursive=True) if regex.match(p))
    except Exception as exc:  # noqa: BLE001 - the department's failure, named by the caller
        raise ProbeFailed(f"{type(exc).__name__}: {exc}") from exc
    return tuple(sorted(found))
