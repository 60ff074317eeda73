"""Checkers sign in through an OpenID Connect provider, in a real browser, against a real ``trust serve``.

The provider (``oidc_provider.LocalProvider``, built on authlib) runs on ``localhost`` and the trust
on ``127.0.0.1``: two sites, as an organisation's provider and the trust are, so the cookies'
SameSite rules are exercised as they will be in use. Tokens keep working for the API and the form.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from trust.demo.environment import configure_home, seed_users
from trust.demo.servers import DepartmentServers
from trust.server.launch import launch_trust
from trust.service import Trust

from .conftest import sign_in
from .oidc_provider import LocalProvider

PROVIDER = "Test ID"
# What the provider knows: carol and dev are the trust's checkers, bob an analyst, olive a policy owner, mallory nobody there.
PEOPLE = {name: {"email": f"{name}@example.gov.uk"} for name in ("carol", "dev", "bob", "olive", "mallory")}


@dataclass
class Stack:
    home: Path
    url: str
    provider: LocalProvider

    def trust(self) -> Trust:
        return Trust.open(self.home)

    def events(self, kind: str, actor: str) -> list[dict[str, object]]:
        return [dict(e.payload) for e in self.trust().audit.events() if e.kind == kind and e.actor == actor]


@pytest.fixture(scope="module")
def stack(departments: DepartmentServers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("oidc-home")
    configure_home(home, departments.endpoints)
    seed_users(Trust.open(home))
    secret = secrets.token_urlsafe(24)
    with LocalProvider(PEOPLE, host="localhost", name=PROVIDER) as provider:
        env = {
            "TRUST_OIDC_ISSUER": provider.issuer,
            "TRUST_OIDC_NAME": PROVIDER,
            "TRUST_OIDC_CLIENT_ID": "labour-market-trust",
            "TRUST_OIDC_CLIENT_SECRET": secret,  # from the environment, as an operator would set it
        }
        with launch_trust(home, workers=2, env=env) as server:
            provider.register_client("labour-market-trust", secret, server.url + "/checker/oidc/callback")
            yield Stack(home, server.url, provider)


@pytest.fixture
def context(browser: Browser, stack: Stack) -> Iterator[BrowserContext]:
    ctx = browser.new_context(base_url=stack.url)
    yield ctx
    ctx.close()


def at_provider(context: BrowserContext, next_page: str = "/checker/") -> Page:
    """A browser that asked for ``next_page``, was sent to sign in, and chose the provider: on its form."""
    page = context.new_page()
    page.goto(next_page)
    expect(page.get_by_role("heading", name="Sign in to check outputs")).to_be_visible()
    page.get_by_role("link", name=f"Sign in with {PROVIDER}").click()
    expect(page.get_by_role("heading", name=f"Sign in to {PROVIDER}")).to_be_visible()
    assert page.url.startswith("http://localhost:")
    return page


def sign_in_at_provider(page: Page, username: str) -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_role("button", name="Continue").click()


def cookies(context: BrowserContext) -> dict[str, dict[str, object]]:
    return {str(c["name"]): dict(c) for c in context.cookies()}


def test_a_checker_signs_in_through_the_provider(context: BrowserContext, stack: Stack):
    callbacks: list[str] = []
    context.on("request", lambda r: callbacks.append(r.url) if "/checker/oidc/callback" in r.url else None)
    page = at_provider(context)
    sign_in_at_provider(page, "carol")

    expect(page.get_by_role("heading", name="Requests waiting for review")).to_be_visible()
    expect(page.locator(".account")).to_contain_text("Signed in as carol")
    session = cookies(context)["trust_checker"]
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    assert "trust_checker_oidc" not in cookies(context)  # the pending sign-in is gone
    signed_in = stack.events("checker_signed_in", "carol")
    assert [(e["method"], e["issuer"]) for e in signed_in] == [("oidc", stack.provider.issuer)]

    # The provider's answer works once: replayed, it is refused and nothing more is signed in.
    assert len(callbacks) == 1 and "code=" in callbacks[0]
    replay = context.new_page()
    response = replay.goto(callbacks[0])
    assert response is not None and response.status == 400
    expect(replay.locator("#error-message")).to_contain_text("already been used")
    expect(replay.get_by_role("link", name="Go to the sign-in page")).to_be_visible()
    assert len(stack.events("checker_signed_in", "carol")) == 1


def test_the_page_asked_for_is_the_page_reached(context: BrowserContext, stack: Stack):
    page = at_provider(context, "/checker/requests/rel-missing")
    sign_in_at_provider(page, "dev")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()  # signed in, on the page asked for
    assert page.url == stack.url + "/checker/requests/rel-missing"
    expect(page.locator(".account")).to_contain_text("Signed in as dev")


def test_someone_with_no_part_in_the_pages_is_refused(context: BrowserContext, stack: Stack):
    page = at_provider(context)
    sign_in_at_provider(page, "olive")  # a policy owner
    expect(page.get_by_role("heading", name="Sign-in failed")).to_be_visible()
    expect(page.locator("#error-message")).to_contain_text(
        "Only output checkers, data owners and analysts sign in to these pages; olive is none of them"
    )
    assert "trust_checker" not in cookies(context)
    denied = stack.events("access_denied", "olive")
    assert [(e["what"], e["method"], e["issuer"]) for e in denied] == [("checker_pages", "oidc", stack.provider.issuer)]
    assert stack.events("checker_signed_in", "olive") == []

    page.goto("/checker/")
    expect(page.get_by_role("heading", name="Sign in to check outputs")).to_be_visible()


def test_someone_the_trust_does_not_know_is_refused(context: BrowserContext, stack: Stack):
    page = at_provider(context)
    sign_in_at_provider(page, "mallory")
    expect(page.locator("#error-message")).to_contain_text("No trust user has the preferred_username 'mallory'")
    assert "trust_checker" not in cookies(context)
    assert [e["method"] for e in stack.events("access_denied", "mallory")] == ["oidc"]


def test_a_reply_with_the_wrong_state_is_refused(context: BrowserContext, stack: Stack):
    page = at_provider(context)  # a sign-in under way, its state in the trust's memory
    response = page.goto(f"{stack.url}/checker/oidc/callback?code=stolen&state=not-the-one-sent")
    assert response is not None and response.status == 400
    expect(page.locator("#error-message")).to_contain_text("its state differs")
    assert "trust_checker" not in cookies(context)
    # The sign-in it pretended to finish is dropped: the real answer cannot finish it afterwards.
    page.go_back()
    expect(page.get_by_role("heading", name=f"Sign in to {PROVIDER}")).to_be_visible()
    sign_in_at_provider(page, "carol")
    expect(page.locator("#error-message")).to_contain_text("already been used")
    assert "trust_checker" not in cookies(context)


def test_cancelling_at_the_provider_says_so(context: BrowserContext, stack: Stack):
    page = at_provider(context)
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("heading", name="Sign-in failed")).to_be_visible()
    expect(page.locator("#error-message")).to_contain_text(f"Sign-in at {PROVIDER} was cancelled")
    assert "trust_checker" not in cookies(context)
    page.get_by_role("link", name="Go to the sign-in page").click()
    expect(page.get_by_role("heading", name="Sign in to check outputs")).to_be_visible()


def test_tokens_still_work_for_the_api_and_the_form(browser: Browser, stack: Stack):
    token = stack.trust().access.issue_token("dev", label="oidc tests").secret
    me = httpx.get(stack.url + "/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert me.status_code == 200 and me.json()["user"] == "dev"
    assert httpx.get(stack.url + "/v1/me", timeout=30).status_code == 401

    page = sign_in(browser, stack.url, token)  # the token form, beside the provider's button
    expect(page.locator(".account")).to_contain_text("Signed in as dev")
    assert [e["method"] for e in stack.events("checker_signed_in", "dev") if "issuer" not in e] == ["token"]
    page.context.close()
