"""The OPA backend over real HTTP: OPA's Data and Policy APIs, bearer tokens, TLS, failures.

The server here is a small Starlette app that speaks OPA's REST API (PUT /v1/policies/{id},
PUT /v1/data/{path}, POST /v1/data/{path} with {"input": ...} -> {"result": ...}) and evaluates
with the embedded engine. It runs under uvicorn on loopback, so opa-python-client, requests and
TLS are all real; only the evaluator behind the API is ours. test_parity.py runs the same cases
against a real `opa` binary when one is installed.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from trust.catalog import load_catalog
from trust.config import REPO_ROOT, Config, write_config
from trust.errors import ConfigurationError
from trust.policy import select_policy
from trust.policy.cases import all_cases
from trust.policy.embedded import UNDEFINED, EmbeddedPolicy, PolicyFailure, policy_data
from trust.policy.opa import OpaPolicy

POLICIES = REPO_ROOT / "policies"
CASES = all_cases(
    Path(__file__).parent / "cases", load_catalog(REPO_ROOT / "catalog"), policy_data(POLICIES)["projects"]
)
TOKEN = "s3cret-token"


class OpaApi:
    """The parts of OPA's REST API the trust uses, evaluated by regopy."""

    def __init__(self, token: str | None = None, fail_with: int | None = None) -> None:
        self.token, self.fail_with = token, fail_with
        self.modules: dict[str, str] = {}
        self.data: dict[str, Any] = {}
        self.requests: list[tuple[str, str, Any]] = []
        self._compiled: dict[str, EmbeddedPolicy] = {}
        self._lock = threading.Lock()
        self.app = Starlette(
            routes=[
                Route("/health", self.health, methods=["GET"]),
                Route("/v1/policies/{id:path}", self.put_policy, methods=["PUT"]),
                Route("/v1/data/{path:path}", self.put_data, methods=["PUT"]),
                Route("/v1/data/{path:path}", self.post_data, methods=["POST"]),
            ]
        )

    def _refused(self, request: Request) -> Response | None:
        if self.token and request.headers.get("authorization") != f"Bearer {self.token}":
            return JSONResponse({"code": "unauthorized", "message": "missing or invalid bearer token"}, status_code=401)
        return None

    async def health(self, request: Request) -> Response:
        return JSONResponse({})

    async def put_policy(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        source = (await request.body()).decode()
        self.requests.append(("PUT", request.url.path, request.headers.get("content-type")))
        try:
            EmbeddedPolicy(modules={request.path_params["id"]: source}, query="data")
        except ConfigurationError as exc:
            return JSONResponse({"code": "invalid_parameter", "message": exc.message}, status_code=400)
        with self._lock:
            self.modules[request.path_params["id"]] = source
            self._compiled.clear()
        return JSONResponse({})

    async def put_data(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        self.requests.append(("PUT", request.url.path, request.headers.get("content-type")))
        node = self.data
        *parents, leaf = request.path_params["path"].strip("/").split("/")
        for p in parents:
            node = node.setdefault(p, {})
        with self._lock:
            node[leaf] = await request.json()
            self._compiled.clear()
        return Response(status_code=204)

    async def post_data(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        body = await request.json()
        self.requests.append(("POST", request.url.path, body))
        if self.fail_with:
            return JSONResponse({"code": "internal_error", "message": "evaluation failed"}, status_code=self.fail_with)
        query = "data." + request.path_params["path"].strip("/").replace("/", ".")
        if not self.modules:  # like OPA: an unknown document is undefined, not an error
            return JSONResponse({})
        try:
            with self._lock:
                if query not in self._compiled:
                    self._compiled[query] = EmbeddedPolicy(modules=self.modules, data=self.data, query=query)
                value = self._compiled[query].evaluate(body.get("input", {}))
        except (ConfigurationError, PolicyFailure) as exc:
            return JSONResponse({"code": "internal_error", "message": str(exc)}, status_code=500)
        return JSONResponse({} if value is UNDEFINED else {"result": value})


class Served:
    """An ASGI app under uvicorn in a thread, on a socket bound here so the port is known."""

    def __init__(self, app: Any, *, certfile: str | None = None, keyfile: str | None = None) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        port = self._sock.getsockname()[1]
        scheme = "https" if certfile else "http"
        self.url = f"{scheme}://localhost:{port}"
        self._server = uvicorn.Server(
            uvicorn.Config(
                app,
                lifespan="off",
                access_log=False,
                log_config=None,
                log_level="warning",
                ssl_certfile=certfile,
                ssl_keyfile=keyfile,
            )
        )
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True)

    def __enter__(self) -> Served:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert time.monotonic() < deadline and self._thread.is_alive(), "server did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)
        self._sock.close()


@pytest.fixture(scope="module")
def opa() -> Iterator[tuple[OpaApi, OpaPolicy]]:
    api = OpaApi(token=TOKEN)
    with Served(api.app) as server:
        policy = OpaPolicy(server.url, token=TOKEN)
        policy.publish(POLICIES)
        yield api, policy
        policy.close()


def test_publish_loads_modules_and_data_through_the_apis(opa):
    api, _ = opa
    assert set(api.modules) == {
        "trust.rego",
        "lib.rego",
        "common/trust.rego",
        "departments/dwp.rego",
        "departments/hmrc.rego",
        "departments/dfe.rego",
        "departments/desnz.rego",
        "applications/application.rego",
        "applications/applications.rego",
        "applications/gateways.rego",
        "applications/dwp.rego",
        "applications/hmrc.rego",
        "applications/dfe.rego",
        "applications/desnz.rego",
    }
    assert set(api.data) == {"projects", "organisations", "departments", "disclosure", "gateways", "purposes"}
    puts = [r for r in api.requests if r[0] == "PUT"]
    assert ("PUT", "/v1/policies/departments/dwp.rego", "text/plain") in puts
    assert ("PUT", "/v1/data/projects", "application/json") in puts


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_every_case_decides_the_same_over_http(opa, embedded, case):
    _, policy = opa
    over_http = policy.decide(case.document)
    assert over_http == embedded.decide(case.document)
    assert case.mismatches(over_http) == []


def test_the_request_is_opas_data_api_with_the_input_document(opa):
    api, policy = opa
    document = CASES[0].document
    policy.decide(document)
    method, path, body = api.requests[-1]
    assert (method, path) == ("POST", "/v1/data/trust/decision")
    assert body == {"input": json.loads(json.dumps(document))}


def refused(decision, rule: str) -> str:
    assert not decision.allow and decision.rules == (rule,)
    return decision.deny[0]["message"]


def test_a_wrong_token_denies(opa):
    _, good = opa
    bad = OpaPolicy(good.url, token="wrong")
    message = refused(bad.decide(CASES[0].document), "trust.policy_unavailable")
    assert "refused the trust's token (HTTP 401)" in message and "opa_url" in message


def test_an_unreachable_server_denies_quickly():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.monotonic()
    message = refused(
        OpaPolicy(f"http://127.0.0.1:{port}", retries=0).decide(CASES[0].document), "trust.policy_unavailable"
    )
    assert "could not be reached" in message and time.monotonic() - started < 5


def test_server_errors_and_missing_policy_deny():
    with Served(OpaApi(fail_with=500).app) as server:
        message = refused(OpaPolicy(server.url, retries=0).decide(CASES[0].document), "trust.policy_unavailable")
        assert "HTTP 500: evaluation failed" in message
    with Served(OpaApi().app) as server:  # nothing published: data.trust.decision is undefined
        message = refused(OpaPolicy(server.url).decide(CASES[0].document), "trust.policy_unavailable")
        assert "has no data.trust.decision (is the trust's policy loaded?)" in message


def test_a_malformed_decision_from_the_server_denies():
    api = OpaApi()
    api.modules["trust.rego"] = 'package trust\n\ndecision := {"allow": "sure"}\n'
    with Served(api.app) as server:
        message = refused(OpaPolicy(server.url).decide({}), "trust.policy_error")
        assert "boolean 'allow'" in message


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A private CA and a server certificate for localhost, made with `cryptography`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder = tmp_path_factory.mktemp("tls")
    now = dt.datetime.now(dt.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("trust test CA"))
        .issuer_name(name("trust test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("localhost"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = {"ca": folder / "ca.pem", "cert": folder / "server.pem", "key": folder / "server.key"}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return {k: str(v) for k, v in paths.items()}


def test_tls_with_the_configured_ca_decides_and_an_unknown_ca_denies(certificates, trust_home):
    api = OpaApi(token=TOKEN)
    with Served(api.app, certfile=certificates["cert"], keyfile=certificates["key"]) as server:
        assert server.url.startswith("https://")
        with pytest.raises(httpx.ConnectError):  # the server really speaks TLS with a private CA
            httpx.get(server.url + "/health", verify=ssl.create_default_context())
        write_config(trust_home, locations={}, credentials={}, settings={"policy_backend": "opa"})
        env = {"TRUST_OPA_URL": server.url, "TRUST_OPA_TOKEN": TOKEN, "TRUST_OPA_CA_FILE": certificates["ca"]}
        config = Config.load(trust_home, environ=env)
        policy = _select(config, env)
        policy.publish(POLICIES)
        case = next(c for c in CASES if c.expect["allow"])
        assert policy.decide(case.document).allow
        untrusted = OpaPolicy(server.url, token=TOKEN, retries=0)  # system CAs only
        message = refused(untrusted.decide(case.document), "trust.policy_unavailable")
        assert "TLS verification of the OPA server" in message


def _select(config: Config, env: dict[str, str]):
    """select_policy, with the OPA settings from ``env`` when trust.config does not declare them yet."""
    values = dict(config.values)
    for name in ("opa_url", "opa_token", "opa_ca_file"):
        values.setdefault(name, env[f"TRUST_{name.upper()}"])
    policy = select_policy(Config(home=config.home, values=values))
    assert policy.backend == "opa"
    return policy


def test_opa_url_must_be_scheme_host_and_port():
    with pytest.raises(ConfigurationError, match="must look like https://host:8181"):
        OpaPolicy("opa.internal:8181")
    with pytest.raises(ConfigurationError, match="no path"):
        OpaPolicy("https://opa.internal:8181/v1/data")
