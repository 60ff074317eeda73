"""A whole demo trust: departments serving their data, a trust home pointing at them, users.

Used by ``trust demo``, ``trust departments serve``, the tests and the notebooks, so all of
them exercise the same real servers and the same configuration path an operator would use.

The commands go through ``prepare_home``, which never replaces an administrator's settings and
never adds the demo's accounts (two of them output checkers) to a trust that is not a demo:

- A *demo home* is one the demo made: ``trust-demo.json`` in it says so (written when the demo
  found the folder without ``trust.toml`` or ``state.db``), or it is the default ``.trust-demo/home``.
- ``trust.toml`` is written when there is none. One that exists is rewritten (with the departments'
  new addresses: their ports change every run) only when the demo wrote it and it has not been
  changed since (its SHA-256 is kept in ``trust-demo.json``); any other is left exactly as it is,
  and the command says so in one line.
- The demo's accounts are added to a demo home, and elsewhere only when asked
  (``--seed-demo-accounts``); either way an account that already exists is left as it is.

``configure_home`` and ``seed_users`` below are the unconditional steps, for a home the caller made
itself (the tests' temporary homes).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trust.config import REPO_ROOT, write_config
from trust.demo.generate import ensure_generated
from trust.demo.servers import DepartmentServers, Endpoints
from trust.errors import ConfigurationError
from trust.service import Trust

DEMO_USERS = (
    ("ana", ("analyst",), "DWP"),
    ("bob", ("analyst",), "Greater Manchester Combined Authority"),
    ("carol", ("output_checker",), "ONS"),
    ("dev", ("output_checker",), "HMRC"),
    ("olive", ("policy_owner",), "DWP"),
)
DEFAULT_SEED = 20261121
DEFAULT_DEMO_HOME = REPO_ROOT / ".trust-demo" / "home"
DEMO_MARK = "trust-demo.json"  # in a home the demo made, or whose trust.toml it wrote


@dataclass(frozen=True)
class DemoEnvironment:
    home: Path
    data_dir: Path
    servers: DepartmentServers
    endpoints: Endpoints

    def trust(self) -> Trust:
        return Trust.open(self.home)


def configure_home(home: Path, endpoints: Endpoints, **settings: object) -> Path:
    """Write ``trust.toml`` with the departments' locations and the HMRC credential, replacing any
    there: for a home the caller made. The commands use ``prepare_home``."""
    return write_config(
        home,
        locations=endpoints.as_variables(),
        credentials={
            "hmrc": {
                "type": "s3",
                "key_id": endpoints.hmrc_key_id,
                "secret": endpoints.hmrc_secret,
                "region": endpoints.hmrc_region,
                "endpoint": endpoints.hmrc_s3_endpoint,
                "url_style": "path",
                "use_ssl": "false",
            }
        },
        settings=settings,
    )


def seed_users(trust: Trust, *, keep_existing: bool = False) -> list[str]:
    """Add the demo's accounts; with ``keep_existing``, an account of the same name is left as it is.
    Returns the names added."""
    existing = {u.name for u in trust.access.users()} if keep_existing else set()
    added = []
    for name, roles, organisation in DEMO_USERS:
        if name not in existing:
            trust.access.add_user(name, roles, organisation)
            added.append(name)
    return added


@dataclass(frozen=True)
class Prepared:
    """What ``prepare_home`` did: ``settings`` is 'written', 'updated' or 'kept'."""

    home: Path
    demo_home: bool
    settings: str
    seeded: tuple[str, ...]
    notes: tuple[str, ...]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _mark(home: Path) -> dict[str, Any] | None:
    try:
        found = json.loads((home / DEMO_MARK).read_text())
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def _fresh(home: Path) -> bool:
    """No settings and no state: nobody's trust yet, so the demo may make it its own."""
    return not (home / "trust.toml").exists() and not any(home.glob("state.db*"))


def is_demo_home(home: Path) -> bool:
    """A home the demo made (``trust-demo.json`` says so), or the default ``.trust-demo/home``."""
    mark = _mark(home)
    return bool(mark and mark.get("demo_home")) or home.resolve() == DEFAULT_DEMO_HOME.resolve()


def prepare_home(
    home: Path, endpoints: Endpoints, *, seed_accounts: bool = False, settings: Mapping[str, object] | None = None
) -> Prepared:
    """Point ``home`` at the running departments and add the demo's accounts, as far as is safe
    (see the module's docstring); ``notes`` says, one line each, what was left alone and why."""
    file = home / "trust.toml"
    mark = _mark(home)
    demo = _fresh(home) or is_demo_home(home)
    notes = []
    legacy = mark is None and home.resolve() == DEFAULT_DEMO_HOME.resolve()  # the demo's folder from before marks
    if not file.exists():
        configure_home(home, endpoints, **(settings or {}))
        state = "written"
    elif legacy or (mark is not None and mark.get("trust_toml_sha256") == _sha256(file)):
        configure_home(home, endpoints, **(settings or {}))  # the demo's own file, unchanged since it wrote it
        state = "updated"
    else:
        state = "kept"
        notes.append(
            f"kept {file} as it is (the demo did not write it, or it was changed since); "
            "its [locations] must name the addresses on the ready line for this trust to read from these departments"
        )
    if state != "kept" or demo:
        written = _sha256(file) if state != "kept" else (mark or {}).get("trust_toml_sha256")
        (home / DEMO_MARK).write_text(
            json.dumps({"demo_home": demo, "trust_toml_sha256": written, "written_by": "trust demo"}, indent=1) + "\n"
        )
    seeded: list[str] = []
    if demo or seed_accounts:
        seeded = seed_users(Trust.open(home), keep_existing=True)
    else:
        names = ", ".join(n for n, _, _ in DEMO_USERS)
        notes.append(
            f"did not add the demo accounts ({names}) to {home}: it is not a demo home; "
            "pass --seed-demo-accounts to add them"
        )
    return Prepared(home, demo, state, tuple(seeded), tuple(notes))


@contextmanager
def demo_environment(
    home: Path, data_dir: Path, *, scale: float = 1.0, seed: int = DEFAULT_SEED, **settings: object
) -> Iterator[DemoEnvironment]:
    if not (_fresh(home) or is_demo_home(home)):
        raise ConfigurationError(
            f"{home} is a trust's home, not a demo's: the demo would change its settings and accounts. "
            f"Run the demo in its default home ({DEFAULT_DEMO_HOME}) or an empty folder."
        )
    ensure_generated(data_dir, scale=scale, seed=seed)
    with DepartmentServers(data_dir) as servers:
        prepared = prepare_home(home, servers.endpoints, settings=settings)
        if prepared.settings == "kept":
            raise ConfigurationError(
                f"{home / 'trust.toml'} was changed since the demo wrote it, so the demo leaves it alone. "
                "Move it away (the demo writes a new one) or run the demo in an empty folder."
            )
        yield DemoEnvironment(home=home, data_dir=data_dir, servers=servers, endpoints=servers.endpoints)
