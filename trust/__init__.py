"""The Labour Market Data Trust: governed, disclosure-safe queries over departments' data in place."""

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

__all__ = [
    "ConfigurationError", "DatasetUnavailable", "DisclosureBlocked", "InvalidTransition", "NotAllowed",
    "NotAuthorised", "Output", "ParseFailed", "PolicyDenied", "QueryFailed", "QueryRejected", "QueryTimeout",
    "Session", "Trust", "TrustError", "UnknownName", "connect",
]
