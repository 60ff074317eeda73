"""``trust serve``: the API under uvicorn, with one ``ready URL`` line once it accepts connections.

``--port 0`` picks a free port; the ready line says which, so tests and scripts can start the
server and read where it is. Server logs go to ``$TRUST_HOME/server.log``, not the terminal.
A request whose line and headers are not in within ``header_timeout_s`` is answered 408 and its
connection closed (``guard.header_timeout``); the app limits bodies itself (``guard.Guard``).
"""

from __future__ import annotations

import logging
import socket
import sys
import time
from pathlib import Path
from typing import TextIO

import uvicorn

from trust.catalog import Status
from trust.errors import ConfigurationError
from trust.server import DEFAULT_PORT
from trust.server.app import create_app
from trust.server.guard import header_timeout
from trust.service import Trust


class _Server(uvicorn.Server):
    """uvicorn's server, announcing itself once its sockets listen."""

    def __init__(self, config: uvicorn.Config, announce: TextIO, home: Path) -> None:
        super().__init__(config)
        self.announce, self.home = announce, home

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.should_exit or not self.servers:
            return
        host, port = self.servers[0].sockets[0].getsockname()[:2]
        print(f"ready http://{host}:{port} (trust home {self.home})", file=self.announce, flush=True)


def _log_to(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(home / "server.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    for name in ("trust.server", "trust.catalog", "trust.engine", "trust.airlock", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def _bind_before_ready(trust: Trust, announce: TextIO) -> None:
    """Bind the catalogue and say what could not be bound; wait (retrying) until something can be served."""
    waited = False
    while True:
        statuses = trust.catalog.statuses()
        for s in statuses:
            if s.status is not Status.AVAILABLE and not waited:
                print(f"unavailable {s.id} ({s.department}): {s.status.value}: {s.reason}", file=announce, flush=True)
        if any(s.status is Status.AVAILABLE for s in statuses):
            return
        if not waited:
            print(
                f"waiting: no dataset can be served yet; retrying every {trust.config.catalog_retry_s:g} s "
                f"(details in {trust.config.home / 'server.log'})",
                file=announce,
                flush=True,
            )
            waited = True
        time.sleep(trust.config.catalog_retry_s)
        trust.catalog.retry()


def serve(
    home: Path | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    workers: int = 8,
    announce: TextIO = sys.stdout,
) -> None:
    """Serve until SIGINT or SIGTERM; queries run on ``workers`` threads."""
    trust = Trust.open(home)
    _log_to(trust.config.home)
    _bind_before_ready(trust, announce)
    config = uvicorn.Config(
        create_app(trust, workers=workers),
        host=host,
        port=port,
        http=header_timeout(trust.config.header_timeout_s),  # uvicorn's own h11 has no deadline for a request's head
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=5,
        server_header=False,
    )
    server = _Server(config, announce, trust.config.home)
    trust.notifier.start()  # e-mail and webhooks about release requests, when configured
    try:
        server.run()
    except SystemExit:  # uvicorn exits when it cannot listen; say why on the terminal, not only in the log
        if not server.started:
            raise ConfigurationError(
                f"The trust could not listen on {host}:{port} (is the port in use?). "
                f"Details are in {trust.config.home / 'server.log'}."
            ) from None
        raise
    finally:
        trust.notifier.stop()
