"""A whole demo trust: departments serving their data, a trust home pointing at them, users.

Used by ``trust demo``, ``trust departments serve``, the tests and the notebooks, so all of
them exercise the same real servers and the same configuration path an operator would use.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from trust.config import write_config
from trust.demo.generate import ensure_generated
from trust.demo.servers import DepartmentServers, Endpoints
from trust.service import Trust

DEMO_USERS = (
    ("ana", ("analyst",), "DWP"),
    ("bob", ("analyst",), "Greater Manchester Combined Authority"),
    ("carol", ("output_checker",), "ONS"),
    ("dev", ("output_checker",), "HMRC"),
    ("olive", ("policy_owner",), "DWP"),
)
DEFAULT_SEED = 20261121


@dataclass(frozen=True)
class DemoEnvironment:
    home: Path
    data_dir: Path
    servers: DepartmentServers
    endpoints: Endpoints

    def trust(self) -> Trust:
        return Trust.open(self.home)


def configure_home(home: Path, endpoints: Endpoints, **settings: object) -> Path:
    """Write ``trust.toml`` with the departments' locations and the HMRC credential."""
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


def seed_users(trust: Trust) -> None:
    for name, roles, organisation in DEMO_USERS:
        trust.access.add_user(name, roles, organisation)


@contextmanager
def demo_environment(
    home: Path, data_dir: Path, *, scale: float = 1.0, seed: int = DEFAULT_SEED, **settings: object
) -> Iterator[DemoEnvironment]:
    ensure_generated(data_dir, scale=scale, seed=seed)
    with DepartmentServers(data_dir) as servers:
        configure_home(home, servers.endpoints, **settings)
        seed_users(Trust.open(home))
        yield DemoEnvironment(home=home, data_dir=data_dir, servers=servers, endpoints=servers.endpoints)
