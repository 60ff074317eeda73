"""The decision point on an OPA server, reached with opa-python-client over OPA's Data API.

    >>> policy = OpaPolicy("https://opa.trust.internal:8181", token="...", ca_file="ca.pem")  # doctest: +SKIP
    >>> policy.decide(document)                                                               # doctest: +SKIP

The request is ``POST /v1/data/trust/decision`` with ``{"input": document}``; the answer's
``result`` is the same ``data.trust.decision`` the embedded evaluator computes. An unreachable
server, a refused token, a TLS failure, an HTTP error or an undefined result all deny the
query (fail closed) with a message that says which, and what to do.

``publish`` loads ``policies/`` into a server through the Policy and Data APIs with the same
layout the embedded evaluator uses (``data/<stem>.json`` at ``data.<stem>``), so both
evaluate the same documents.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from opa_client import OpaClient

from trust.errors import ConfigurationError
from trust.policy.decision import Decision
from trust.policy.embedded import QUERY, policy_data, read_modules

DECISION_PATH = QUERY.removeprefix("data.").replace(".", "/")  # trust/decision
REMEDY = "Ask the trust's administrators to check the OPA server (policy_backend, opa_url in trust.toml)."


class OpaUnavailable(Exception):
    """The OPA server gave no usable answer."""


class OpaPolicy:
    """Decisions from an OPA server. The client (and its connection pool) is built once and reused."""

    backend = "opa"

    def __init__(
        self,
        url: str,
        *,
        token: str = "",
        ca_file: str = "",
        client_cert: str = "",
        timeout_s: float = 2.0,
        retries: int = 1,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname or parts.path not in {"", "/"}:
            raise ConfigurationError(
                f"opa_url {url!r} must look like https://host:8181 (scheme, host and port, no path). Fix it in trust.toml."
            )
        if ca_file and not Path(ca_file).is_file():
            raise ConfigurationError(f"opa_ca_file {ca_file!r} does not exist. Fix it in trust.toml.")
        tls = parts.scheme == "https"
        self.url = f"{parts.scheme}://{parts.hostname}:{parts.port or (443 if tls else 8181)}"
        # opa-python-client: a truthy `ssl` selects https and is passed to requests as `verify`,
        # so a CA bundle path pins the server's certificate authority.
        self._client = OpaClient(
            host=parts.hostname,
            port=parts.port or (443 if tls else 8181),
            ssl=(ca_file or True) if tls else False,
            cert=client_cert or None,
            token=token or None,
            timeout=timeout_s,
            retries=retries,
        )
        if ca_file:
            # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's CA bundle;
            # a pinned opa_ca_file must win, so the environment is not consulted.
            self._client._session.trust_env = False

    def describe(self) -> str:
        return f"OPA server at {self.url}"

    def close(self) -> None:
        self._client.close_connection()

    def evaluate(self, document: Mapping[str, Any]) -> Any:
        """The raw ``data.trust.decision`` for one input; ``OpaUnavailable`` if there is none."""
        try:
            answer = self._client.query_rule(dict(document), "trust", "decision")
        except requests.exceptions.SSLError:
            raise OpaUnavailable(f"TLS verification of the OPA server at {self.url} failed") from None
        except requests.exceptions.ConnectionError:
            raise OpaUnavailable(f"the OPA server at {self.url} could not be reached") from None
        except requests.exceptions.Timeout:
            raise OpaUnavailable(f"the OPA server at {self.url} did not answer in time") from None
        except requests.exceptions.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else "?"
            if status in (401, 403):
                raise OpaUnavailable(
                    f"the OPA server at {self.url} refused the trust's token (HTTP {status})"
                ) from None
            raise OpaUnavailable(
                f"the OPA server at {self.url} answered HTTP {status}: {_message(exc.response)}"
            ) from None
        except (requests.exceptions.RequestException, ValueError) as exc:
            raise OpaUnavailable(f"the OPA server at {self.url} gave no usable answer ({type(exc).__name__})") from None
        if not isinstance(answer, Mapping) or "result" not in answer:
            raise OpaUnavailable(f"the OPA server at {self.url} has no {QUERY} (is the trust's policy loaded?)")
        return answer["result"]

    def decide(self, document: Mapping[str, Any]) -> Decision:
        """The decision for one input document; any failure denies (fails closed)."""
        try:
            return Decision.from_json(self.evaluate(document))
        except OpaUnavailable as exc:
            return Decision.refused(
                "trust.policy_unavailable", f"No policy decision: {exc}, so the query is refused.", REMEDY
            )
        except ConfigurationError as exc:
            return Decision.refused(
                "trust.policy_error",
                f"The policy could not decide ({exc}), so the query is refused.",
                "Policy owners: run `trust policy check` and `trust policy test`.",
            )
        except Exception as exc:  # the client and its transport raise assorted types; none may allow
            return Decision.refused(
                "trust.policy_unavailable",
                f"No policy decision from {self.url} ({type(exc).__name__}), so the query is refused.",
                REMEDY,
            )

    def publish_data(self, name: str, value: Any) -> None:
        """Put ``value`` at ``data.<name>`` on the server (the agreements in force: ``trust.policy.live``)."""
        try:
            self._client.update_or_create_data(value, name)
        except requests.exceptions.RequestException as exc:
            raise ConfigurationError(f"Could not send data.{name} to {self.url}: {type(exc).__name__}.") from None

    def publish(self, directory: Path) -> list[str]:
        """Load the policy modules and data under ``directory`` into the server; returns what was loaded."""
        loaded = []
        try:
            for name, source in read_modules(directory).items():
                self._client.update_policy_from_string(source, name, rego_compat=False)
                loaded.append(name)
            for stem, value in policy_data(directory).items():
                self._client.update_or_create_data(value, stem)
                loaded.append(f"data.{stem}")
        except requests.exceptions.RequestException as exc:
            raise ConfigurationError(f"Could not publish the policy to {self.url}: {type(exc).__name__}.") from None
        except Exception as exc:  # opa-python-client raises its own types for rejected modules
            raise ConfigurationError(f"The OPA server at {self.url} rejected the policy: {exc}") from None
        return loaded


def _message(response: requests.Response | None) -> str:
    if response is None:
        return "no body"
    try:
        body = response.json()
        return str(body.get("message") or body)[:300]
    except ValueError:
        return response.text[:300]
