"""``trust departments serve`` as a process, on homes it must not take over.

It writes ``trust.toml`` only where there is none, or where it wrote the one there and nobody has
changed it since; it adds the demo's accounts (two of them output checkers) only to a demo home,
or when told to with ``--seed-demo-accounts``. Each run is stopped with SIGTERM, as an operator's
service manager would, and must exit cleanly.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from trust.demo.environment import DEMO_MARK, DEMO_USERS
from trust.server.launch import Running, start, trust_command

ADMIN_SETTINGS = """\
# the administrator's own settings
query_timeout_s = 33.0

[locations]
DWP_DATA_URL = "https://data.dwp.example/trust"
"""
DEMO_NAMES = {name for name, _, _ in DEMO_USERS}


def _serve(home: Path, data_dir: Path, *more: str) -> Running:
    scale = json.loads((data_dir / ".complete").read_text())["scale"]
    return start(
        ["departments", "serve", "--data-dir", str(data_dir), "--scale", str(scale), *more],
        home=home,
        name="departments",
    )


def _stop(running: Running) -> None:
    running.stop()  # SIGTERM
    assert running.process.returncode == 0
    assert "Traceback" not in running.log.read_text()


def _users(home: Path) -> dict[str, str]:
    r = trust_command("users", "list", home=home)
    assert r.returncode == 0, r.stderr
    return {line.split()[0]: line.split()[1] for line in r.stdout.splitlines()[2:] if line.strip()}


def _dwp_url(running: Running) -> str:
    return next(part.split("=", 1)[1] for part in running.ready.split() if part.startswith("DWP="))


@pytest.fixture
def admin_home(tmp_path: Path) -> Path:
    """A trust an administrator set up: their own settings and one account of their own."""
    home = tmp_path / "srv-trust"
    home.mkdir()
    (home / "trust.toml").write_text(ADMIN_SETTINGS)
    added = trust_command("users", "add", "root", "--roles", "admin", "--organisation", "ONS", home=home)
    assert added.returncode == 0, added.stderr
    return home


def test_an_administrators_settings_and_accounts_are_left_alone(admin_home: Path, data_dir: Path):
    before = (admin_home / "trust.toml").read_bytes()
    running = _serve(admin_home, data_dir)
    try:
        assert running.ready.startswith("ready DWP=http://127.0.0.1:")
        notes = "\n".join(running.before)
        assert f"kept {admin_home / 'trust.toml'} as it is" in notes
        assert "did not add the demo accounts (ana, bob, carol, dev, olive)" in notes
        assert "pass --seed-demo-accounts to add them" in notes
        assert all("Traceback" not in line and len(line) < 400 for line in running.before)
        assert (admin_home / "trust.toml").read_bytes() == before  # while it runs, too
    finally:
        _stop(running)
    assert (admin_home / "trust.toml").read_bytes() == before
    assert _users(admin_home) == {"root": "admin"}
    assert not (admin_home / DEMO_MARK).exists()


def test_a_trust_without_settings_gets_them_but_no_accounts_unless_asked(admin_home: Path, data_dir: Path):
    (admin_home / "trust.toml").unlink()  # settings from the environment only; the state is a real trust's
    running = _serve(admin_home, data_dir)
    try:
        written = tomllib.loads((admin_home / "trust.toml").read_text())
        assert written["locations"]["DWP_DATA_URL"] == _dwp_url(running)
        assert any("did not add the demo accounts" in line for line in running.before)
    finally:
        _stop(running)
    assert _users(admin_home) == {"root": "admin"}

    # Asked for explicitly: the demo's accounts are added; the administrator's stay as they were, and the
    # settings the demo wrote (unchanged since) follow the departments to their new addresses.
    running = _serve(admin_home, data_dir, "--seed-demo-accounts")
    try:
        assert not any("did not add" in line or "kept" in line for line in running.before)
        assert tomllib.loads((admin_home / "trust.toml").read_text())["locations"]["DWP_DATA_URL"] == _dwp_url(running)
    finally:
        _stop(running)
    users = _users(admin_home)
    assert users.pop("root") == "admin" and set(users) == DEMO_NAMES
    assert users["carol"] == "output_checker"


def test_a_demo_home_is_the_demos_own_until_someone_edits_its_settings(tmp_path: Path, data_dir: Path):
    home = tmp_path / "fresh"  # nothing there yet: the demo makes it a demo home
    running = _serve(home, data_dir)
    try:
        assert running.before == ()
        first = _dwp_url(running)
    finally:
        _stop(running)
    assert json.loads((home / DEMO_MARK).read_text())["demo_home"] is True
    assert set(_users(home)) == DEMO_NAMES

    trust_command("users", "disable", "carol", home=home)
    running = _serve(home, data_dir)  # new ports; the demo's own settings follow them
    try:
        assert tomllib.loads((home / "trust.toml").read_text())["locations"]["DWP_DATA_URL"] == _dwp_url(running)
        assert _dwp_url(running) != first
    finally:
        _stop(running)
    listing = trust_command("users", "list", home=home).stdout
    assert any(line.split()[0] == "carol" and "disabled" in line for line in listing.splitlines())  # not re-enabled

    edited = (home / "trust.toml").read_text() + "query_timeout_s = 5.0\n"
    (home / "trust.toml").write_text(edited)
    running = _serve(home, data_dir)
    try:
        assert any(line.startswith(f"kept {home / 'trust.toml'} as it is") for line in running.before)
    finally:
        _stop(running)
    assert (home / "trust.toml").read_text() == edited
