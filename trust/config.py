"""Settings, declared once as data, read from ``$TRUST_HOME/trust.toml`` and the environment.

Each setting has a default and help text. The environment wins over the file:
``TRUST_QUERY_TIMEOUT_S=5`` overrides ``query_timeout_s`` in ``trust.toml``. The file may also
hold ``[locations]`` (values for the ``${NAME}`` placeholders in catalogue locations),
``[credentials.NAME]`` tables (department secrets, held only by the trust) and ``[departments.NAME]``
tables, which set one department's own ``timeout_s``, ``retries`` and ``max_reads`` (otherwise
``department_timeout_s``, ``department_retries`` and ``department_max_reads``).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trust.errors import ConfigurationError

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str

    @property
    def env_var(self) -> str:
        return f"TRUST_{self.name.upper()}"

    def parse(self, raw: Any) -> Any:
        kind = type(self.default)
        try:
            if kind is bool and isinstance(raw, str):
                if raw.lower() not in {"1", "0", "true", "false", "yes", "no"}:
                    raise ValueError(raw)
                return raw.lower() in {"1", "true", "yes"}
            return kind(raw)
        except (TypeError, ValueError):
            raise ConfigurationError(
                f"Setting {self.name!r} must be a {kind.__name__}, got {raw!r}. "
                f"Fix it in trust.toml or the {self.env_var} environment variable."
            ) from None


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "catalog_dir", str(REPO_ROOT / "catalog"), "Folder of catalogue registrations, one YAML file per department."
    ),
    Setting("policies_dir", str(REPO_ROOT / "policies"), "Folder of Rego modules and policy data."),
    Setting("policy_backend", "embedded", "'embedded' (regopy in-process) or 'opa' (an OPA server)."),
    Setting("opa_url", "", "URL of the OPA server when policy_backend is 'opa'."),
    Setting("opa_token", "", "Bearer token sent to the OPA server."),
    Setting("opa_ca_file", "", "PEM CA that signs the OPA server's certificate (pinned)."),
    Setting("opa_client_cert", "", "PEM client certificate for mutual TLS with OPA."),
    Setting("opa_timeout_s", 2.0, "Seconds to wait for an OPA decision before refusing the query."),
    Setting("query_timeout_s", 60.0, "Seconds a query may run before it is interrupted."),
    Setting(
        "department_timeout_s",
        10.0,
        "Seconds one HTTP or S3 request to a department may take (to connect, or between bytes) before it fails.",
    ),
    Setting("department_retries", 1, "Times a failed request to a department is tried again."),
    Setting(
        "department_max_reads",
        0,
        "Most queries reading from one department at once, so a slow department cannot take every query worker; "
        "0 (the default): half the server's query workers, at least 2.",
    ),
    Setting("catalog_retry_s", 30.0, "Seconds between background attempts to bind an unavailable dataset."),
    Setting("memory_limit", "2GB", "DuckDB memory limit for one query engine."),
    Setting(
        "engine",
        "duckdb",
        "Query engine: 'duckdb' (the default: each query in a fresh in-process sandbox) or 'spark' (Apache "
        "Spark, for data beyond one machine; see docs/engines.md).",
    ),
    Setting(
        "spark_master",
        "local[2]",
        "Where the Spark engine runs: local[N], spark://host:port, k8s://https://host:port, or sc://host:port "
        "(Spark Connect).",
    ),
    Setting("spark_driver_memory", "2g", "Memory of the Spark driver the trust starts (not for sc:// masters)."),
    Setting("spark_executor_memory", "2g", "Memory of each Spark executor the trust asks for."),
    Setting("spark_shuffle_partitions", 4, "Spark's shuffle partitions for the trust's queries."),
    Setting("threads", 2, "DuckDB worker threads per query."),
    Setting(
        "spill_dir",
        "",
        "Directory where a query that needs more than memory_limit spills (a private folder per query, removed "
        "after it); empty: trust-spill in the system's temporary directory. Keep it off the trust's home, so a "
        "spilling query cannot fill the disk that holds the trust's state.",
    ),
    Setting("spill_limit", "20GB", "Most disk one query may spill to; 0 turns spilling off."),
    Setting("max_sql_length", 20000, "Longest SQL text accepted, in characters."),
    Setting("max_depth", 12, "Deepest nesting of subqueries and expressions accepted."),
    Setting("max_output_groups", 10000, "Most rows (cells per measure) one output may have."),
    Setting("max_joins", 6, "Most joins one query may have."),
    Setting("header_timeout_s", 10.0, "Seconds a client may take to send a request's line and headers (then 408)."),
    Setting("body_idle_timeout_s", 10.0, "Seconds a request body may stall with nothing arriving (then 408)."),
    Setting("body_timeout_s", 30.0, "Seconds a client may take to send a whole request body (then 408)."),
    Setting(
        "token_lifetime_days",
        90.0,
        "Days a bearer token works when `trust tokens issue` is not given --expires-days; 0 means tokens issued "
        "without --expires-days never expire (an explicit choice; tokens issued before this setting keep theirs).",
    ),
    Setting("smtp_host", "", "SMTP server for notifications of release requests; empty sends no e-mail."),
    Setting("smtp_port", 25, "Port of the SMTP server."),
    Setting("smtp_from", "trust@localhost", "The From address of the trust's e-mail."),
    Setting("smtp_starttls", False, "Whether to upgrade the SMTP connection with STARTTLS."),
    Setting("smtp_username", "", "User name for the SMTP server, if it needs one."),
    Setting("smtp_password", "", "Password for the SMTP server (set it in TRUST_SMTP_PASSWORD, not in trust.toml)."),
    Setting(
        "webhook_urls",
        "",
        "Comma-separated URLs that receive every notification of a release request as signed JSON (docs/release.md).",
    ),
    Setting(
        "webhook_secret", "", "Shared secret that signs webhook bodies (HMAC-SHA256; set it in TRUST_WEBHOOK_SECRET)."
    ),
    Setting("public_url", "", "Where analysts and checkers reach the trust's pages, for links in notifications."),
    Setting(
        "oidc_issuer",
        "",
        "Issuer URL of the organisation's OpenID Connect provider (its discovery document is at "
        "<issuer>/.well-known/openid-configuration); empty: checkers sign in to the pages with tokens only.",
    ),
    Setting("oidc_name", "", "The provider's name on the sign-in button; empty: the issuer's host name."),
    Setting("oidc_client_id", "", "The trust's client id, registered with the OpenID Connect provider."),
    Setting(
        "oidc_client_secret",
        "",
        "The trust's client secret at the OpenID Connect provider (set it in TRUST_OIDC_CLIENT_SECRET, not in trust.toml).",
    ),
    Setting("oidc_scopes", "openid email profile", "Scopes the trust asks the OpenID Connect provider for."),
    Setting(
        "oidc_user_claim",
        "preferred_username",
        "The ID token claim that names the trust user: 'preferred_username' (matched against user names) or "
        "'email' (matched against users' e-mail addresses, `trust users add --email`).",
    ),
)
_BY_NAME = {s.name: s for s in SETTINGS}


def trust_home(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    return Path(env.get("TRUST_HOME") or Path.home() / ".trust").expanduser()


@dataclass(frozen=True)
class DepartmentLimits:
    """How the trust treats one department's servers."""

    timeout_s: float  # one HTTP or S3 request
    retries: int
    max_reads: int  # queries reading from it at once; 0: half the query workers (trust.service.gate)


_DEPARTMENT_KEYS = {"timeout_s": float, "retries": int, "max_reads": int}


def _department_table(name: str, raw: Any, file: Path) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise ConfigurationError(f"[departments.{name}] in {file} must be a table of timeout_s, retries, max_reads.")
    unknown = set(raw) - set(_DEPARTMENT_KEYS)
    if unknown:
        raise ConfigurationError(
            f"[departments.{name}] in {file} has unknown key(s) {sorted(unknown)}; known: {sorted(_DEPARTMENT_KEYS)}."
        )
    out: dict[str, Any] = {}
    for key, kind in _DEPARTMENT_KEYS.items():
        if key in raw:
            value = raw[key]
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or value < (0 if key == "retries" else 1e-9)
            ):
                raise ConfigurationError(
                    f"[departments.{name}] {key} in {file} must be a positive number, got {value!r}."
                )
            out[key] = kind(value)
    return out


@dataclass(frozen=True)
class Config:
    home: Path
    values: Mapping[str, Any]
    locations: Mapping[str, str] = field(default_factory=dict)
    credentials: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    departments: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def department(self, name: str) -> DepartmentLimits:
        own = self.departments.get(name, {})
        return DepartmentLimits(
            timeout_s=float(own.get("timeout_s", self.values["department_timeout_s"])),
            retries=int(own.get("retries", self.values["department_retries"])),
            max_reads=max(0, int(own.get("max_reads", self.values["department_max_reads"]))),  # 0: the gate's default
        )

    def __getattr__(self, name: str) -> Any:
        if name in _BY_NAME:
            return self.values[name]
        raise AttributeError(name)

    @property
    def state_db(self) -> Path:
        return self.home / "state.db"

    @classmethod
    def load(cls, home: Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
        env = os.environ if environ is None else environ
        home = home or trust_home(env)
        file = home / "trust.toml"
        data: dict[str, Any] = {}
        if file.exists():
            try:
                data = tomllib.loads(file.read_text())
            except tomllib.TOMLDecodeError as exc:
                raise ConfigurationError(f"{file} is not valid TOML ({exc}). Fix the file and retry.") from None
        unknown = set(data) - set(_BY_NAME) - {"locations", "credentials", "departments"}
        if unknown:
            raise ConfigurationError(
                f"Unknown setting(s) {sorted(unknown)} in {file}. Known settings: {sorted(_BY_NAME)}."
            )
        values = {}
        for s in SETTINGS:
            raw = env.get(s.env_var, data.get(s.name, s.default))
            values[s.name] = s.parse(raw)
        locations = {str(k): str(v) for k, v in data.get("locations", {}).items()}
        locations.update({k[len("TRUST_LOCATION_") :]: v for k, v in env.items() if k.startswith("TRUST_LOCATION_")})
        credentials = {str(k): {str(a): str(b) for a, b in v.items()} for k, v in data.get("credentials", {}).items()}
        departments = {str(k): _department_table(str(k), v, file) for k, v in data.get("departments", {}).items()}
        return cls(home=home, values=values, locations=locations, credentials=credentials, departments=departments)


def write_config(
    home: Path,
    *,
    locations: Mapping[str, str],
    credentials: Mapping[str, Mapping[str, str]],
    settings: Mapping[str, Any] | None = None,
    departments: Mapping[str, Mapping[str, Any]] | None = None,
) -> Path:
    """Write a ``trust.toml`` (used by the demo and tests to point the trust at running departments)."""
    home.mkdir(parents=True, exist_ok=True)
    lines = [f"{k} = {_toml(v)}" for k, v in (settings or {}).items()]
    lines.append("\n[locations]")
    lines += [f"{k} = {_toml(v)}" for k, v in locations.items()]
    for name, secret in credentials.items():
        lines.append(f"\n[credentials.{name}]")
        lines += [f"{k} = {_toml(v)}" for k, v in secret.items()]
    for name, own in (departments or {}).items():
        lines.append(f"\n[departments.{name}]")
        lines += [f"{k} = {_toml(v)}" for k, v in own.items()]
    path = home / "trust.toml"
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return path


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
