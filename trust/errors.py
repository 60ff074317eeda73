"""Every error a user of the trust can see.

The tree::

    TrustError                      base: a message a person can act on, plus context
    ├── QueryRejected               the SQL was refused before it ran
    │   ├── ParseFailed             not one readable SELECT statement
    │   ├── NotAllowed              a construct outside the allow-list or a structural rule
    │   └── PolicyDenied            the policy said no (carries each deny rule)
    ├── UnknownName                 a dataset, column, user or project that does not exist
    ├── DatasetUnavailable          a department's data could not be read
    │   └── DatasetChanged          the data at the source is not the registered version
    ├── KeyReused                   an idempotency key sent again with another request
    ├── StorageFailed               the trust's own storage is full or failing; nothing was stored
    ├── StateDisagrees              a stored record disagrees with the audit trail; not acted on
    ├── QueryTimeout                the query ran past its time limit
    ├── QueryCancelled              the analyst cancelled the query; nothing was made
    ├── QueryFailed                 the engine failed; the message never echoes data values
    ├── DisclosureBlocked           no cell of the result may be shown
    ├── InvalidTransition           a release request cannot move that way
    ├── NotAuthorised               the caller may not do this
    │   └── NotAuthenticated        no valid bearer token or session came with the request
    └── ConfigurationError          the trust itself is set up wrongly

HTTP statuses are mapped here, in one place, so server and client agree.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any


class TrustError(Exception):
    """Base of every error the trust raises on purpose."""

    http_status = 400
    code = "trust_error"

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.context = {k: v for k, v in context.items() if v is not None}

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.code, "type": type(self).__name__, "message": self.message, **self.context}


class QueryRejected(TrustError):
    http_status = 400
    code = "query_rejected"

    def __init__(
        self,
        message: str,
        *,
        rule: str | None = None,
        construct: str | None = None,
        position: tuple[int, int] | None = None,
        **context: Any,
    ) -> None:
        super().__init__(message, rule=rule, construct=construct, position=position, **context)
        self.rule = rule
        self.construct = construct
        self.position = position


class ParseFailed(QueryRejected):
    code = "parse_failed"


class NotAllowed(QueryRejected):
    code = "not_allowed"


class PolicyDenied(QueryRejected):
    http_status = 403
    code = "policy_denied"

    def __init__(self, denials: list[dict[str, str]], policy_input: Mapping[str, Any] | None = None) -> None:
        first = denials[0] if denials else {"rule": "trust.default_deny", "message": "no rule allowed this query"}
        more = f" (and {len(denials) - 1} more)" if len(denials) > 1 else ""
        super().__init__(f"Denied by policy [{first['rule']}]: {first['message']}{more}", rule=first["rule"])
        self.denials = denials
        self.context["denials"] = denials
        self.policy_input = policy_input  # for the audit event (trust policy diff replays it); not sent to the user


class UnknownName(TrustError):
    http_status = 404
    code = "unknown_name"


class DatasetUnavailable(TrustError):
    http_status = 503
    code = "dataset_unavailable"


class DatasetChanged(DatasetUnavailable):
    """What a department serves is not the version its data owner registered: refused until accepted."""

    http_status = 409
    code = "dataset_changed"


class KeyReused(TrustError):
    """An idempotency key sent again with a different request."""

    http_status = 422
    code = "idempotency_key_reused"


class StorageFailed(TrustError):
    """The trust could not write its own state (its disk is full or failing): nothing was stored."""

    http_status = 507
    code = "storage_failed"


class StateDisagrees(TrustError):
    """A record of the trust's state does not match its audit trail: it is not acted on."""

    http_status = 500
    code = "state_disagrees"


class QueryTimeout(TrustError):
    http_status = 504
    code = "query_timeout"


class QueryCancelled(TrustError):
    """The analyst stopped the query (Ctrl-C, a kernel interrupt, ``DELETE /v1/queries/{id}``) before it made
    an output. In Jupyter only the message is shown: the traceback would say nothing the analyst can use."""

    http_status = 409
    code = "query_cancelled"

    def _render_traceback_(self) -> list[str]:  # IPython's hook for what an uncaught exception shows
        return [f"{type(self).__name__}: {self.message}"]


class QueryFailed(TrustError):
    http_status = 500
    code = "query_failed"


class DisclosureBlocked(TrustError):
    http_status = 403
    code = "disclosure_blocked"


class InvalidTransition(TrustError):
    http_status = 409
    code = "invalid_transition"


class NotAuthorised(TrustError):
    http_status = 403
    code = "not_authorised"


UNAUTHENTICATED = "Authentication required: send a valid bearer token (ask an administrator for one)."


class NotAuthenticated(NotAuthorised):
    """No valid bearer token came with the request (HTTP 401). Every way a token can fail (missing,
    malformed, unknown, revoked, user disabled) is this one error with this one message, so a caller
    learns nothing about which it was; only an expired token's holder is told it expired."""

    http_status = 401
    code = "not_authenticated"

    def __init__(self, message: str = UNAUTHENTICATED, **context: Any) -> None:
        super().__init__(message, **context)


class ConfigurationError(TrustError):
    http_status = 500
    code = "configuration_error"


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """A ' Did you mean …?' suffix, or '' when nothing is close."""
    close = difflib.get_close_matches(name.lower(), [c.lower() for c in candidates], n=1, cutoff=0.6)
    if not close:
        return ""
    original = {c.lower(): c for c in candidates}[close[0]]
    return f" Did you mean {original!r}?"


ERRORS_BY_CODE: dict[str, type[TrustError]] = {
    cls.code: cls
    for cls in (
        TrustError,
        QueryRejected,
        ParseFailed,
        NotAllowed,
        PolicyDenied,
        UnknownName,
        DatasetUnavailable,
        DatasetChanged,
        KeyReused,
        StorageFailed,
        StateDisagrees,
        QueryTimeout,
        QueryCancelled,
        QueryFailed,
        DisclosureBlocked,
        InvalidTransition,
        NotAuthorised,
        NotAuthenticated,
        ConfigurationError,
    )
}
