"""Tokens expire by default: ``trust tokens issue`` as a process, the real ``trust serve`` refusing them.

A token issued without ``--expires-days`` expires after ``token_lifetime_days`` (90 unless set); one
that never expires must be asked for. An expired token is refused with a message that says so and how
to get a new one; every other bad token still gets the one message that says nothing.
"""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

import trust
from trust.errors import UNAUTHENTICATED, NotAuthenticated
from trust.server.launch import trust_command

from .conftest import Stack


def _issue(stack: Stack, *args: str, env: dict[str, str] | None = None) -> tuple[str, str]:
    """``trust tokens issue ana ARGS``: the token (stdout) and the token's id and expiry (stderr)."""
    r = trust_command("tokens", "issue", "ana", *args, home=stack.home, env=env)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    return r.stdout.strip(), r.stderr


def _expiry(stderr: str) -> dt.datetime:
    text = stderr.split(", expires ", 1)[1].split(".", 1)[0]
    return dt.datetime.fromisoformat(text)


def _listed(stack: Stack, stderr: str) -> list[str]:
    """The ``trust tokens list`` row of the token just issued."""
    token_id = stderr.split()[1]
    rows = trust_command("tokens", "list", "ana", home=stack.home).stdout.splitlines()
    return next(line.split() for line in rows if line.startswith(token_id))


def _me(stack: Stack, token: str) -> httpx.Response:
    return httpx.get(stack.url + "/v1/me", headers={"Authorization": f"Bearer {token}"})


def test_a_token_expires_after_90_days_by_default(stack: Stack):
    before = dt.datetime.now(dt.UTC)
    token, said = _issue(stack)
    expires = _expiry(said)
    assert dt.timedelta(days=90) - dt.timedelta(minutes=1) <= expires - before <= dt.timedelta(days=90, minutes=1)
    assert _listed(stack, said)[-2:] == [expires.isoformat(), "active"]
    assert _me(stack, token).json()["user"] == "ana"


def test_the_lifetime_is_a_setting(stack: Stack):
    before = dt.datetime.now(dt.UTC)
    _, said = _issue(stack, env={"TRUST_TOKEN_LIFETIME_DAYS": "7"})
    assert abs(_expiry(said) - before - dt.timedelta(days=7)) < dt.timedelta(minutes=1)
    _, own = _issue(stack, "--expires-days", "2", env={"TRUST_TOKEN_LIFETIME_DAYS": "7"})
    assert abs(_expiry(own) - before - dt.timedelta(days=2)) < dt.timedelta(minutes=1)  # asked for wins
    bad = trust_command("tokens", "issue", "ana", home=stack.home, env={"TRUST_TOKEN_LIFETIME_DAYS": "-3"})
    assert bad.returncode == 2 and bad.stdout == "" and "Traceback" not in bad.stderr
    assert "'token_lifetime_days' must be 0 (no expiry) or more days" in bad.stderr


def test_a_token_that_never_expires_is_asked_for(stack: Stack):
    token, said = _issue(stack, "--expires-days", "never")
    assert "never expires" in said and ", expires " not in said
    assert _listed(stack, said)[-2:] == ["never", "active"]
    assert _me(stack, token).status_code == 200
    _, by_setting = _issue(stack, env={"TRUST_TOKEN_LIFETIME_DAYS": "0"})  # an administrator's explicit choice
    assert "never expires" in by_setting


def test_an_expired_token_is_refused_saying_so_and_what_to_do(stack: Stack):
    token, said = _issue(stack, "--expires-days", "-1")  # its expiry already past: no waiting
    assert _listed(stack, said)[-1] == "expired"
    r = _me(stack, token)
    assert r.status_code == 401
    message = r.json()["message"]
    assert message.startswith("This token expired on ") and "ask an administrator for a new one" in message
    assert "trust tokens issue" in message and token not in message
    with pytest.raises(NotAuthenticated, match="This token expired on"):
        trust.Client(stack.url, token=token, progress=False).me()
    # Nothing else changed: an unknown or revoked token is still the one message that says nothing.
    assert _me(stack, "lmdt_" + "x" * 43).json()["message"] == UNAUTHENTICATED
    revoked, said = _issue(stack)
    assert trust_command("tokens", "revoke", said.split()[1], home=stack.home).returncode == 0
    assert _me(stack, revoked).json()["message"] == UNAUTHENTICATED
