"""Users and bearer tokens: stored as hashes, revoked at once, the same answer for every failure."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from trust.demo.environment import seed_users
from trust.errors import NotAuthenticated, NotAuthorised, TrustError, UnknownName
from trust.service import Trust
from trust.service.access import TOKEN_PREFIX, token_hash


@pytest.fixture
def t(trust_home: Path) -> Trust:
    trust = Trust.open(trust_home)
    seed_users(trust)
    return trust


def test_a_token_is_stored_only_as_its_sha256(t: Trust):
    token = t.access.issue_token("ana", label="laptop")
    assert token.secret and token.secret.startswith(TOKEN_PREFIX) and len(token.secret) > 40
    raw = t.config.state_db.read_bytes() + (
        Path(str(t.config.state_db) + "-wal").read_bytes() if Path(str(t.config.state_db) + "-wal").exists() else b""
    )
    assert token.secret.encode() not in raw
    with sqlite3.connect(t.config.state_db) as con:
        assert con.execute("SELECT token_sha256 FROM tokens WHERE id = ?", (token.id,)).fetchone()[0] == token_hash(
            token.secret
        )
    assert all(listed.secret is None for listed in t.access.tokens())
    assert t.access.authenticate(token.secret).name == "ana"


@pytest.mark.parametrize("secret", [None, "", "lmdt_", "nope", TOKEN_PREFIX + "x" * 43, "lmdt_" + "a" * 500])
def test_every_bad_token_fails_the_same_way(t: Trust, secret: str | None):
    with pytest.raises(NotAuthenticated) as caught:
        t.access.authenticate(secret)
    assert caught.value.http_status == 401 and isinstance(caught.value, NotAuthorised)
    assert str(caught.value) == str(NotAuthenticated())


def test_revoked_expired_and_disabled(t: Trust):
    first, second = t.access.issue_token("bob"), t.access.issue_token("bob")
    t.access.revoke_token(first.id)
    with pytest.raises(NotAuthenticated):
        t.access.authenticate(first.secret)
    assert t.access.authenticate(second.secret).name == "bob"
    t.access.revoke_token(second.secret)  # by the token itself
    t.access.revoke_token(second.id)  # twice is harmless
    with pytest.raises(NotAuthenticated):
        t.access.authenticate(second.secret)
    expired = t.access.issue_token("ana", expires_days=-1)
    with pytest.raises(NotAuthenticated):
        t.access.authenticate(expired.secret)
    live = t.access.issue_token("carol")
    t.access.disable_user("carol")
    with pytest.raises(NotAuthenticated):
        t.access.authenticate(live.secret)
    assert next(u for u in t.access.users() if u.name == "carol").disabled
    assert all(tok.revoked for tok in t.access.tokens("carol"))
    t.access.add_user("carol", ("output_checker",), "ONS")  # re-enabled, but old tokens stay revoked
    with pytest.raises(NotAuthenticated):
        t.access.authenticate(live.secret)
    assert t.access.authenticate(t.access.issue_token("carol").secret).name == "carol"
    kinds = [e.kind for e in t.audit.events()]
    assert {"token_issued", "token_revoked", "user_disabled"} <= set(kinds)
    assert all(first.secret not in str(e.payload) for e in t.audit.events())


def test_unknown_users_and_tokens(t: Trust):
    with pytest.raises(UnknownName, match="Did you mean 'ana'"):
        t.access.issue_token("anna")
    with pytest.raises(UnknownName):
        t.access.revoke_token("tok-00000000")
    with pytest.raises(TrustError, match="Unknown role"):
        t.access.add_user("x", ("superuser",), "HMRC")


def test_membership_comes_from_policy_data(t: Trust):
    assert "demo-employment-support" in t.access.member_projects("ana")
    assert list(t.access.member_projects("bob")) == ["demo-dwp-caseload"]
    assert t.access.member_projects("carol") == {}
    ana, bob, carol = t.access.user("ana"), t.access.user("bob"), t.access.user("carol")
    assert t.access.can_see_project(ana, "demo-employment-support") and not t.access.can_see_project(
        bob, "demo-employment-support"
    )
    assert t.access.can_see_project(carol, "demo-employment-support")  # output checkers review every project
    with pytest.raises(NotAuthorised, match="not a member"):
        t.access.check_can_see_project(bob, "demo-employment-support")
