"""Checkers' sign-in through their organisation's OpenID Connect provider (authlib's client).

Authorization Code flow with PKCE (S256), ``state`` and ``nonce``. ``begin`` keeps what the
callback must check (state, nonce, PKCE verifier, redirect URI, the page to go to) in this
process's memory under a random id, which goes in a short-lived cookie; ``finish`` takes it out
again (once: a pending sign-in is used or dropped, never kept half-done), checks ``state``,
exchanges the code, and validates the ID token against the provider's JWKS: signature, issuer,
audience, expiry and nonce. What to do with the claims is the service's business
(``CheckerSessions.user_for_claims``). Every failure is a ``SignInFailed`` whose message says
what went wrong and what to do.

    >>> sign_in = OidcSignIn.from_config(config)  # doctest: +SKIP
    >>> url, pending = await sign_in.begin("https://trust.example/checker/oidc/callback", "/checker/")  # doctest: +SKIP
    >>> claims, next_page = await sign_in.finish(pending, dict(request.query_params))  # doctest: +SKIP
"""

from __future__ import annotations

import hmac
import logging
import secrets
import threading
import time
import urllib.parse
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.integrations.base_client import OAuthError  # type: ignore[import-untyped]
from joserfc.errors import JoseError

with warnings.catch_warnings():
    # authlib prefers httpx2 and warns when it falls back to httpx, which the trust uses everywhere.
    warnings.simplefilter("ignore")
    from authlib.integrations.starlette_client import OAuth  # type: ignore[import-untyped]

from trust.config import Config
from trust.errors import ConfigurationError

log = logging.getLogger("trust.server")
PENDING_SECONDS = 600  # how long a sign-in may stay at the provider
MAX_PENDING = 10_000  # sign-ins under way at once; beyond this the oldest are dropped
LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
# authlib talks through httpx (it would switch to httpx2 if that were installed; the trust does not install it).
NETWORK_ERRORS: tuple[type[BaseException], ...] = (httpx.HTTPError, OSError)
_STARTING_ERRORS: tuple[type[BaseException], ...] = (*NETWORK_ERRORS, RuntimeError, ValueError)
_METADATA_ERRORS: tuple[type[BaseException], ...] = (*NETWORK_ERRORS, ValueError)


class SignInFailed(Exception):
    """A sign-in through the provider that did not succeed; ``message`` is for the person signing in."""

    def __init__(self, message: str, *, status: int = 400, reason: str = "") -> None:
        super().__init__(message)
        self.message, self.status, self.reason = message, status, reason or message


@dataclass(frozen=True)
class OidcSettings:
    issuer: str
    client_id: str
    client_secret: str
    scopes: str
    user_claim: str
    name: str

    @classmethod
    def from_config(cls, config: Config) -> OidcSettings | None:
        """The provider's settings, or None when ``oidc_issuer`` is not set; incomplete settings fail loudly."""
        issuer = str(config.oidc_issuer).strip().rstrip("/")
        if not issuer:
            return None
        parts = urllib.parse.urlsplit(issuer)
        if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in LOOPBACK):
            raise ConfigurationError(
                f"Setting 'oidc_issuer' must be an https:// URL, got {issuer!r}. Fix it in trust.toml or TRUST_OIDC_ISSUER."
            )
        if not config.oidc_client_id:
            raise ConfigurationError(
                "Setting 'oidc_issuer' is set but 'oidc_client_id' is not. Set the client id the provider gave "
                "the trust in trust.toml or TRUST_OIDC_CLIENT_ID."
            )
        scopes = str(config.oidc_scopes).split()
        if "openid" not in scopes:
            raise ConfigurationError(
                f"Setting 'oidc_scopes' must include 'openid', got {config.oidc_scopes!r}. Fix it in trust.toml."
            )
        claim = str(config.oidc_user_claim).strip()
        if not claim or claim in {"sub", "iss", "aud", "nonce"}:
            raise ConfigurationError(
                f"Setting 'oidc_user_claim' must name the claim that names a user ('preferred_username' or "
                f"'email'), got {claim!r}. Fix it in trust.toml."
            )
        return cls(
            issuer=issuer,
            client_id=str(config.oidc_client_id),
            client_secret=str(config.oidc_client_secret),
            scopes=" ".join(scopes),
            user_claim=claim,
            name=str(config.oidc_name).strip() or (parts.hostname or issuer),
        )


@dataclass(frozen=True)
class _Pending:
    state: str
    nonce: str
    code_verifier: str
    redirect_uri: str
    next: str
    started: float


class OidcSignIn:
    """One organisation's provider, and the sign-ins under way through it."""

    def __init__(self, settings: OidcSettings, *, timeout_s: float = 10.0) -> None:
        self.settings = settings
        oauth = OAuth()
        self.client: Any = oauth.register(
            name="organisation",
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            server_metadata_url=settings.issuer + "/.well-known/openid-configuration",
            client_kwargs={"scope": settings.scopes, "code_challenge_method": "S256", "timeout": timeout_s},
        )
        self._pending: dict[str, _Pending] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: Config) -> OidcSignIn | None:
        settings = OidcSettings.from_config(config)
        return None if settings is None else cls(settings, timeout_s=float(config.department_timeout_s))

    @property
    def name(self) -> str:
        return self.settings.name

    async def begin(self, redirect_uri: str, next_page: str) -> tuple[str, str]:
        """Where to send the browser (the provider's authorize URL), and the pending sign-in's id for its cookie."""
        metadata = await self._metadata()
        try:
            found = await self.client.create_authorization_url(redirect_uri)
        except _STARTING_ERRORS as exc:
            raise self._unreachable(exc) from None
        if not metadata.get("authorization_endpoint"):
            raise self._unreachable(ValueError("no authorization_endpoint in the discovery document"))
        pending = _Pending(found["state"], found["nonce"], found["code_verifier"], redirect_uri, next_page, time.time())
        key = secrets.token_urlsafe(32)
        with self._lock:
            self._drop_stale()
            self._pending[key] = pending
        return found["url"], key

    async def finish(self, key: str | None, params: Mapping[str, str]) -> tuple[dict[str, Any], str]:
        """The validated ID token's claims and the page to go to, for the provider's redirect back to us."""
        with self._lock:
            pending = self._pending.pop(key, None) if key else None  # one use, whatever happens next
        if pending is None or pending.started < time.time() - PENDING_SECONDS:
            raise SignInFailed(
                "This sign-in was not started from this browser, has already been used, or took longer than ten "
                "minutes, so it was not accepted. Go back to the sign-in page and start again.",
                reason="no pending sign-in",
            )
        if not hmac.compare_digest(pending.state, params.get("state", "")):
            raise SignInFailed(
                "The reply from the sign-in service does not match the sign-in this browser started (its state "
                "differs), so it was refused. Go back to the sign-in page and start again.",
                reason="state mismatch",
            )
        error = params.get("error")
        if error == "access_denied":
            raise SignInFailed(
                f"Sign-in at {self.name} was cancelled or refused, so you are not signed in. Go back to the sign-in "
                "page to try again, or sign in with a token.",
                status=401,
                reason="cancelled at the provider",
            )
        if error:
            said = str(params.get("error_description") or error)[:200]
            raise SignInFailed(
                f"{self.name} did not sign you in ({said}). Try again; if it keeps happening, tell an administrator.",
                status=401,
                reason=f"provider error {error}",
            )
        if not params.get("code"):
            raise SignInFailed(
                f"{self.name} sent no authorization code back. Go back to the sign-in page and start again.",
                reason="no code",
            )
        try:
            token = await self.client.fetch_access_token(
                redirect_uri=pending.redirect_uri, code=params["code"], code_verifier=pending.code_verifier
            )
        except NETWORK_ERRORS as exc:
            raise self._unreachable(exc) from None
        except (OAuthError, ValueError, KeyError) as exc:
            log.warning("the OpenID Connect provider refused the code: %s", exc)
            raise SignInFailed(
                f"{self.name} would not complete the sign-in (it refused the code: {str(exc)[:200]}). Go back to "
                "the sign-in page and start again.",
                status=401,
                reason="code refused",
            ) from None
        if "id_token" not in token:
            raise SignInFailed(
                f"{self.name} sent no ID token, so the trust cannot tell who you are. Tell an administrator "
                "(the trust must be allowed the 'openid' scope).",
                status=502,
                reason="no ID token",
            )
        try:
            claims = await self.client.parse_id_token(
                token,
                nonce=pending.nonce,
                claims_options={"iss": {"essential": True, "value": self.settings.issuer}},
                leeway=60,
            )
        except NETWORK_ERRORS as exc:
            raise self._unreachable(exc) from None
        except (JoseError, ValueError, KeyError, RuntimeError) as exc:
            log.warning("refused an ID token from %s: %s", self.settings.issuer, exc)
            raise SignInFailed(
                f"The ID token from {self.name} did not pass the trust's checks ({type(exc).__name__}), so you are "
                "not signed in. Try again; if it keeps happening, tell an administrator.",
                status=401,
                reason=f"invalid ID token: {type(exc).__name__}",
            ) from None
        return dict(claims), pending.next

    async def _metadata(self) -> dict[str, Any]:
        try:
            metadata: dict[str, Any] = await self.client.load_server_metadata()
        except _METADATA_ERRORS as exc:
            raise self._unreachable(exc) from None
        if str(metadata.get("issuer", "")).rstrip("/") != self.settings.issuer:
            self.client.server_metadata.pop("_loaded_at", None)  # read it again next time
            log.error("%s's discovery document names issuer %r", self.settings.issuer, metadata.get("issuer"))
            raise SignInFailed(
                f"{self.name}'s discovery document names a different issuer than the trust is configured with, so "
                "it cannot be used. Tell an administrator (setting oidc_issuer).",
                status=502,
                reason="issuer mismatch in discovery",
            )
        return metadata

    def _unreachable(self, exc: BaseException) -> SignInFailed:
        log.warning("the OpenID Connect provider %s is unreachable: %r", self.settings.issuer, exc)
        return SignInFailed(
            f"The trust could not reach {self.name} to sign you in. Try again in a few minutes, or sign in with "
            "a token.",
            status=502,
            reason="provider unreachable",
        )

    def _drop_stale(self) -> None:
        cutoff = time.time() - PENDING_SECONDS
        for key in [k for k, p in self._pending.items() if p.started < cutoff]:
            del self._pending[key]
        while len(self._pending) >= MAX_PENDING:
            del self._pending[next(iter(self._pending))]
