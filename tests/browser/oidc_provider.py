"""A small OpenID Connect provider for the tests, built on authlib's server classes.

Authorization Code flow with PKCE (S256, required), ``nonce`` and ``state``; ID tokens signed with
RS256 by a key generated at start, published at ``/jwks``; discovery at
``/.well-known/openid-configuration``. The authorize endpoint shows a real form: a user name
(one of ``users``) and "Sign in" or "Cancel". Test code, not product code: it runs plain HTTP on
loopback, keeps everything in memory, and trusts whoever types a known name.

    >>> with LocalProvider({"carol": {"email": "carol@ons.example"}}) as op:  # doctest: +SKIP
    ...     op.register_client("trust", "s3cret", "http://127.0.0.1:8000/checker/oidc/callback")
"""

from __future__ import annotations

import html
import http.server
import json
import os
import secrets
import threading
import time
import urllib.parse
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from authlib.oauth2.rfc6749 import AuthorizationServer, ClientMixin, OAuth2Payload, OAuth2Request
from authlib.oauth2.rfc6749.errors import OAuth2Error
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.core.models import AuthorizationCodeMixin
from joserfc.jwk import RSAKey

os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")  # the provider's own requests are plain HTTP on loopback


@dataclass
class Client(ClientMixin):
    client_id: str
    client_secret: str
    redirect_uris: list[str]

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in (scope or "").split() if s in {"openid", "email", "profile"})

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(self.client_secret, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in {"client_secret_basic", "client_secret_post"}

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class Code(AuthorizationCodeMixin):
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time


class _Payload(OAuth2Payload):
    def __init__(self, values: dict[str, list[str]]) -> None:
        self._values = values

    @property
    def data(self) -> dict[str, str]:
        return {k: v[0] for k, v in self._values.items()}

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return defaultdict(list, self._values)


class _Request(OAuth2Request):
    def __init__(self, method: str, uri: str, headers: dict[str, str], values: dict[str, list[str]]) -> None:
        super().__init__(method, uri, headers=headers)
        self.payload = _Payload(values)
        self._values = values

    @property
    def args(self) -> dict[str, str]:
        return {k: v[0] for k, v in self._values.items()} if self.method == "GET" else {}

    @property
    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in self._values.items()} if self.method == "POST" else {}


class LocalProvider:
    """A running provider on ``host`` and a free port; ``issuer`` is its URL."""

    def __init__(self, users: dict[str, dict[str, str]], *, host: str = "localhost", name: str = "Test ID") -> None:
        self.users = users
        self.name = name
        self.key = RSAKey.generate_key(2048, parameters={"kid": secrets.token_hex(4), "use": "sig", "alg": "RS256"})
        self.forged_key: RSAKey | None = None  # tests: sign with this instead, still naming and publishing ``key``
        self.clients: dict[str, Client] = {}
        self.codes: dict[str, Code] = {}
        self.tokens_issued = 0
        self._lock = threading.Lock()
        self._httpd = http.server.ThreadingHTTPServer((host, 0), _handler(self))
        self.issuer = f"http://{host}:{self._httpd.server_address[1]}"
        self.server = self._authorization_server()
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="oidc-provider", daemon=True)

    def __enter__(self) -> LocalProvider:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def register_client(self, client_id: str, client_secret: str, *redirect_uris: str) -> None:
        self.clients[client_id] = Client(client_id, client_secret, list(redirect_uris))

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.issuer + "/authorize",
            "token_endpoint": self.issuer + "/token",
            "jwks_uri": self.issuer + "/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
        }

    def _authorization_server(self) -> AuthorizationServer:
        provider = self

        class Server(AuthorizationServer):
            def query_client(self, client_id: str) -> Client | None:
                return provider.clients.get(client_id)

            def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
                with provider._lock:
                    provider.tokens_issued += 1

            def create_oauth2_request(self, request: Any) -> OAuth2Request:
                return request if isinstance(request, OAuth2Request) else _Request(*request)

            def create_json_request(self, request: Any) -> Any:
                raise NotImplementedError

            def handle_response(self, status: int, body: Any, headers: Any) -> tuple[int, Any, Any]:
                return status, body, headers

            def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
                pass

        class CodeGrant(AuthorizationCodeGrant):
            TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

            def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
                p = request.payload
                assert p is not None
                with provider._lock:
                    provider.codes[code] = Code(
                        code,
                        request.client.get_client_id(),
                        p.redirect_uri,
                        p.scope,
                        request.user,
                        p.data.get("nonce"),
                        p.data.get("code_challenge"),
                        p.data.get("code_challenge_method"),
                    )

            def query_authorization_code(self, code: str, client: Client) -> Code | None:
                found = provider.codes.get(code)
                return found if found is not None and found.client_id == client.client_id else None

            def delete_authorization_code(self, authorization_code: Code) -> None:
                with provider._lock:
                    provider.codes.pop(authorization_code.code, None)

            def authenticate_user(self, authorization_code: Code) -> str:
                return authorization_code.user

        class IDToken(OpenIDCode):
            def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
                return any(c.nonce == nonce for c in provider.codes.values())

            def resolve_client_private_key(self, client: Client) -> RSAKey:
                return provider.forged_key or provider.key

            def get_client_algorithm(self, client: Client) -> str:
                return "RS256"

            def get_encode_header(self, client: Client) -> dict[str, str]:
                return {"alg": "RS256", "kid": str(provider.key.kid)}

            def get_client_claims(self, client: Client) -> dict[str, Any]:
                return {"iss": provider.issuer, "aud": [client.get_client_id()], "exp": int(time.time()) + 300}

            def generate_user_info(self, user: str, scope: str) -> UserInfo:
                claims = provider.users[user]
                info = UserInfo(sub=f"sub-{user}")
                if "profile" in scope.split():
                    info["preferred_username"] = claims.get("preferred_username", user)
                    info["name"] = claims.get("name", user)
                if "email" in scope.split() and "email" in claims:
                    info["email"] = claims["email"]
                return info

        server = Server(scopes_supported=["openid", "email", "profile"])
        server.register_token_generator(
            "default", BearerTokenGenerator(access_token_generator=lambda *a, **k: secrets.token_urlsafe(24))
        )
        server.register_grant(CodeGrant, [CodeChallenge(required=True), IDToken(require_nonce=True)])
        return server


def _login_form(provider: LocalProvider, query: str, error: str = "") -> str:
    problem = f'<p role="alert">{html.escape(error)}</p>' if error else ""
    return (
        f'<!doctype html><html lang="en"><head><title>{html.escape(provider.name)}: sign in</title></head><body>'
        f"<h1>Sign in to {html.escape(provider.name)}</h1>{problem}"
        f'<form method="post" action="/authorize"><input type="hidden" name="query" value="{html.escape(query)}">'
        '<label for="username">Username</label> <input id="username" name="username" autocomplete="off">'
        '<button type="submit" name="action" value="sign-in">Continue</button> '
        '<button type="submit" name="action" value="cancel">Cancel</button></form></body></html>'
    )


def _handler(provider: LocalProvider) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, body: Any, headers: Any = (), content_type: str = "application/json") -> None:
            data = (json.dumps(body) if isinstance(body, dict) else str(body or "")).encode()
            self.send_response(status)
            sent = {k.lower() for k, _ in headers}
            for k, v in headers:
                self.send_header(k, v)
            if "content-type" not in sent:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _request(self, values: dict[str, list[str]]) -> tuple[str, str, dict[str, str], dict[str, list[str]]]:
            return (self.command, provider.issuer + self.path, dict(self.headers.items()), values)

        def do_GET(self) -> None:
            path, _, query = self.path.partition("?")
            if path == "/.well-known/openid-configuration":
                self._send(200, provider.discovery())
            elif path == "/jwks":
                self._send(200, {"keys": [provider.key.as_dict(private=False)]})
            elif path == "/authorize":
                try:
                    provider.server.get_consent_grant(self._request(urllib.parse.parse_qs(query)))
                except OAuth2Error as exc:
                    self._send(400, f"<p>{html.escape(exc.error or '')}: {html.escape(exc.description or '')}</p>")
                    return
                self._send(200, _login_form(provider, query), content_type="text/html; charset=utf-8")
            else:
                self._send(404, {"error": "not_found"})

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
            form = urllib.parse.parse_qs(body, keep_blank_values=True)
            if self.path == "/token":
                self._send(*provider.server.create_token_response(self._request(form)))
            elif self.path == "/authorize":
                query = form.get("query", [""])[0]
                username = form.get("username", [""])[0].strip()
                values = urllib.parse.parse_qs(query)
                request = ("GET", provider.issuer + "/authorize?" + query, dict(self.headers.items()), values)
                grant = provider.server.get_consent_grant(request)
                cancelled = form.get("action", [""])[0] == "cancel"
                if not cancelled and username not in provider.users:
                    self._send(200, _login_form(provider, query, f"No user {username!r}."), content_type="text/html")
                    return
                self._send(
                    *provider.server.create_authorization_response(
                        request, grant_user=None if cancelled else username, grant=grant
                    )
                )
            else:
                self._send(404, {"error": "not_found"})

    return Handler
