"""OpenID Connect sign-in below the browser: its settings, an unreachable provider, the ID token's
checks against a real provider (``tests/browser/oidc_provider.py``), and the mapping from a
token's claims to a trust user with its audit."""

from __future__ import annotations

import asyncio
import html
import re
import socket
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from trust.config import Config
from trust.errors import ConfigurationError, NotAuthorised
from trust.server.oidc import OidcSettings, OidcSignIn, SignInFailed
from trust.service import Trust
from trust.service.checkers import user_for_claims
from trust.store.users import UserRecord

from ..browser.oidc_provider import LocalProvider

CALLBACK = "http://127.0.0.1:9/checker/oidc/callback"  # never called: the tests play the browser's part


def config(tmp_path: Path, **env: str) -> Config:
    return Config.load(tmp_path, {f"TRUST_{k.upper()}": v for k, v in env.items()})


@pytest.fixture
def provider() -> Iterator[LocalProvider]:
    with LocalProvider({"carol": {"email": "carol@ons.example"}}) as op:
        op.register_client("trust", "s3cret", CALLBACK)
        yield op


def sign_in(tmp_path: Path, op: LocalProvider, **settings: str) -> OidcSignIn:
    given = {"oidc_issuer": op.issuer, "oidc_client_id": "trust", "oidc_client_secret": "s3cret", **settings}
    found = OidcSignIn.from_config(config(tmp_path, **given))
    assert found is not None
    return found


async def answer(op: LocalProvider, url: str, username: str) -> dict[str, str]:
    """Fill the provider's form as a browser would; the query of its redirect back to the trust."""
    async with httpx.AsyncClient() as browser:
        form = await browser.get(url)
        query = html.unescape(re.search(r'name="query" value="([^"]*)"', form.text).group(1))  # type: ignore[union-attr]
        back = await browser.post(op.issuer + "/authorize", data={"query": query, "username": username})
    assert back.status_code == 302 and back.headers["location"].startswith(CALLBACK)
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(back.headers["location"]).query))


def test_no_issuer_means_tokens_only(tmp_path: Path):
    assert OidcSettings.from_config(config(tmp_path)) is None


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"oidc_issuer": "http://login.example.org", "oidc_client_id": "t"}, "https://"),
        ({"oidc_issuer": "https://login.example.org"}, "oidc_client_id"),
        ({"oidc_issuer": "https://login.example.org", "oidc_client_id": "t", "oidc_scopes": "email"}, "'openid'"),
        ({"oidc_issuer": "https://login.example.org", "oidc_client_id": "t", "oidc_user_claim": "sub"}, "claim"),
    ],
)
def test_incomplete_settings_fail_loudly(tmp_path: Path, settings: dict[str, str], named: str):
    with pytest.raises(ConfigurationError, match=re.escape(named)):
        OidcSettings.from_config(config(tmp_path, **settings))


def test_the_client_secret_comes_from_the_environment(tmp_path: Path):
    (tmp_path / "trust.toml").write_text('oidc_issuer = "https://login.example.org/"\noidc_client_id = "trust"\n')
    found = OidcSettings.from_config(Config.load(tmp_path, {"TRUST_OIDC_CLIENT_SECRET": "from-env"}))
    assert found is not None and found.client_secret == "from-env"
    assert found.issuer == "https://login.example.org" and found.name == "login.example.org"


def test_an_unreachable_provider_is_one_clear_failure(tmp_path: Path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket closes
    found = OidcSignIn.from_config(
        config(tmp_path, oidc_issuer=f"http://127.0.0.1:{port}", oidc_client_id="t", oidc_name="Org ID")
    )
    assert found is not None
    with pytest.raises(SignInFailed) as caught:
        asyncio.run(found.begin(CALLBACK, "/checker/"))
    assert caught.value.status == 502
    assert caught.value.message.startswith("The trust could not reach Org ID to sign you in.")


def test_a_provider_answer_is_checked_and_used_once(tmp_path: Path, provider: LocalProvider):
    oidc = sign_in(tmp_path, provider)

    async def flow() -> None:
        url, pending = await oidc.begin(CALLBACK, "/checker/requests/rel-1")
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
        assert query["code_challenge_method"] == "S256" and query["nonce"] and query["state"]
        back = await answer(provider, url, "carol")
        claims, target = await oidc.finish(pending, back)
        assert claims["preferred_username"] == "carol" and claims["nonce"] == query["nonce"]
        assert claims["iss"] == provider.issuer and target == "/checker/requests/rel-1"
        with pytest.raises(SignInFailed, match="already been used"):
            await oidc.finish(pending, back)

    asyncio.run(flow())


def test_an_id_token_from_another_issuer_is_refused(tmp_path: Path, provider: LocalProvider):
    oidc = sign_in(tmp_path, provider)

    async def flow() -> None:
        url, pending = await oidc.begin(CALLBACK, "/checker/")
        back = await answer(provider, url, "carol")
        provider.issuer += "/elsewhere"  # the token now names an issuer the trust is not configured with
        with pytest.raises(SignInFailed, match="did not pass the trust's checks") as caught:
            await oidc.finish(pending, back)
        assert caught.value.status == 401

    asyncio.run(flow())


def test_an_id_token_signed_by_another_key_is_refused(tmp_path: Path, provider: LocalProvider):
    oidc = sign_in(tmp_path, provider)

    async def flow() -> None:
        url, pending = await oidc.begin(CALLBACK, "/checker/")
        with LocalProvider({}) as impostor:
            provider.forged_key = impostor.key  # signs with it, under the kid of the key it publishes
        back = await answer(provider, url, "carol")
        with pytest.raises(SignInFailed, match="did not pass the trust's checks"):
            await oidc.finish(pending, back)

    asyncio.run(flow())


CAROL = UserRecord("carol", ("output_checker",), "ONS", False, "2026-01-01", "Carol@ONS.example")
CAROLINE = UserRecord("caroline", ("analyst",), "DWP", False, "2026-01-01", "")


@pytest.mark.parametrize(
    ("claims", "claim", "expected"),
    [
        ({"preferred_username": "carol"}, "preferred_username", "carol"),
        ({"preferred_username": "Carol"}, "preferred_username", "No trust user has the preferred_username 'Carol'"),
        ({"email": "carol@ons.example"}, "email", "carol"),
        ({"email": "carol@ons.example", "email_verified": False}, "email", "is not verified"),
        ({"email": ""}, "email", "did not say your email"),
        ({"preferred_username": "carol"}, "email", "did not say your email"),
        ({"email": "nobody@ons.example"}, "email", "No trust user has the e-mail address 'nobody@ons.example'"),
    ],
)
def test_claims_name_one_user(claims: dict[str, object], claim: str, expected: str):
    if expected in {"carol"}:
        assert user_for_claims(claims, claim, [CAROL, CAROLINE]) == expected
    else:
        with pytest.raises(NotAuthorised, match=re.escape(expected)):
            user_for_claims(claims, claim, [CAROL, CAROLINE])


def test_an_address_two_users_share_names_nobody():
    twin = UserRecord("carol2", ("output_checker",), "ONS", False, "2026-01-01", "carol@ons.example")
    with pytest.raises(NotAuthorised, match="More than one trust user"):
        user_for_claims({"email": "carol@ons.example"}, "email", [CAROL, twin])


def test_sign_ins_and_refusals_are_audited_with_their_method(tmp_path: Path):
    t = Trust.open(tmp_path)
    t.access.add_user("carol", ("output_checker",), "ONS", email="carol@ons.example")
    t.access.add_user("bob", ("policy_owner",), "GMCA", email="bob@gmca.example")  # no part in the pages
    issuer = "https://login.example.org"

    name = t.checkers.user_for_claims({"email": "carol@ons.example"}, "email", issuer=issuer)
    session = t.checkers.open_for(name, method="oidc", issuer=issuer)
    assert session.secret is not None and t.checkers.find(session.secret) is not None
    with pytest.raises(NotAuthorised, match="Only output checkers, data owners and analysts"):
        t.checkers.open_for("bob", method="oidc", issuer=issuer)
    with pytest.raises(NotAuthorised):
        t.checkers.user_for_claims({"email": "eve@example.org"}, "email", issuer=issuer)
    t.checkers.open(t.access.issue_token("carol").secret)

    events = [(e.kind, e.actor, e.payload.get("method"), e.payload.get("issuer")) for e in t.audit.events()]
    assert ("checker_signed_in", "carol", "oidc", issuer) in events
    assert ("checker_signed_in", "carol", "token", None) in events
    assert ("access_denied", "bob", "oidc", issuer) in events
    assert ("access_denied", "eve@example.org", "oidc", issuer) in events
