"""The Labour Market Data Trust: governed, disclosure-safe queries over departments' data in place."""

from trust.client import Client
from trust.errors import (
    ConfigurationError,
    DatasetUnavailable,
    DisclosureBlocked,
    InvalidTransition,
    NotAllowed,
    NotAuthorised,
    ParseFailed,
    PolicyDenied,
    QueryFailed,
    QueryRejected,
    QueryTimeout,
    TrustError,
    UnknownName,
)
from trust.outputs.output import Output
from trust.service import Session, Trust, connect


def load_ipython_extension(ipython: object) -> None:
    """``%load_ext trust``: register the ``%%trust`` magics (IPython is imported only then)."""
    from trust.client.magic import load_ipython_extension as load

    load(ipython)


__all__ = [
    "Client", "ConfigurationError", "DatasetUnavailable", "DisclosureBlocked", "InvalidTransition", "NotAllowed",
    "NotAuthorised", "Output", "ParseFailed", "PolicyDenied", "QueryFailed", "QueryRejected", "QueryTimeout",
    "Session", "Trust", "TrustError", "UnknownName", "connect",
    "load_ipython_extension",
]
