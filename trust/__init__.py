"""The Labour Market Data Trust: governed, disclosure-safe queries over departments' data in place.

``trust.Client`` (an analyst's connection to a trust server) needs only the wire format and pyarrow;
the embedded service (``trust.connect``, ``Trust``, ``Session``) loads the engine, the policy and
the store, so it is imported only when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trust.client import Client
from trust.errors import (
    ConfigurationError,
    DatasetUnavailable,
    DisclosureBlocked,
    InvalidTransition,
    NotAllowed,
    NotAuthenticated,
    NotAuthorised,
    ParseFailed,
    PolicyDenied,
    QueryCancelled,
    QueryFailed,
    QueryRejected,
    QueryTimeout,
    TrustError,
    UnknownName,
)
from trust.outputs.output import Output

if TYPE_CHECKING:
    from trust.service import Session, Trust, connect

_SERVICE = ("Session", "Trust", "connect")


def __getattr__(name: str) -> Any:
    if name in _SERVICE:
        import trust.service

        return getattr(trust.service, name)
    raise AttributeError(f"module 'trust' has no attribute {name!r}")


def load_ipython_extension(ipython: object) -> None:
    """``%load_ext trust``: register the ``%%trust`` magics (IPython is imported only then)."""
    from trust.client.magic import load_ipython_extension as load

    load(ipython)


__all__ = [
    "Client",
    "ConfigurationError",
    "DatasetUnavailable",
    "DisclosureBlocked",
    "InvalidTransition",
    "NotAllowed",
    "NotAuthenticated",
    "NotAuthorised",
    "Output",
    "ParseFailed",
    "PolicyDenied",
    "QueryCancelled",
    "QueryFailed",
    "QueryRejected",
    "QueryTimeout",
    "Session",
    "Trust",
    "TrustError",
    "UnknownName",
    "connect",
    "load_ipython_extension",
]
