"""Choose the decision point from the settings: embedded regopy (default) or an OPA server.

    >>> policy = select_policy(Config.load())      # doctest: +SKIP
    >>> policy.decide(document).allow              # doctest: +SKIP

Settings: ``policy_backend`` ('embedded' or 'opa'), ``policies_dir``, ``opa_url``,
``opa_token``, ``opa_ca_file``, ``opa_client_cert``, ``opa_timeout_s``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from trust.config import Config
from trust.errors import ConfigurationError, did_you_mean
from trust.policy.decision import Decision

BACKENDS = ("embedded", "opa")


class Policy(Protocol):
    """What the service needs from a decision point."""

    backend: str

    def decide(self, document: Mapping[str, Any]) -> Decision: ...

    def describe(self) -> str: ...


def _setting(config: Config, name: str, default: Any) -> Any:
    # The OPA connection settings may not be declared yet in trust.config.SETTINGS.
    return config.values.get(name, default)


def select_policy(config: Config) -> Policy:
    """The configured decision point, built once; a wrong setting fails loudly with a hint."""
    backend = str(_setting(config, "policy_backend", "embedded")).strip().lower()
    if backend == "embedded":
        from trust.policy.embedded import EmbeddedPolicy

        return EmbeddedPolicy(Path(config.policies_dir))
    if backend == "opa":
        try:  # the opa extra: not in the runtime (requirements/runtime.lock)
            from trust.policy.opa import OpaPolicy
        except ImportError as exc:
            raise ConfigurationError(
                f"policy_backend is 'opa' but {exc.name} is not installed: pip install -r requirements/opa.lock "
                "(or 'labour-market-data-trust[opa]'), or set policy_backend = \"embedded\"."
            ) from None

        url = str(_setting(config, "opa_url", "")).strip()
        if not url:
            raise ConfigurationError(
                "policy_backend is 'opa' but opa_url is not set. Set it in trust.toml "
                '(e.g. opa_url = "https://opa.internal:8181") or TRUST_OPA_URL.'
            )
        return OpaPolicy(
            url,
            token=str(_setting(config, "opa_token", "")),
            ca_file=str(_setting(config, "opa_ca_file", "")),
            client_cert=str(_setting(config, "opa_client_cert", "")),
            timeout_s=float(_setting(config, "opa_timeout_s", 2.0)),
        )
    raise ConfigurationError(
        f"Unknown policy_backend {backend!r}; use one of {', '.join(BACKENDS)}.{did_you_mean(backend, BACKENDS)}"
    )
