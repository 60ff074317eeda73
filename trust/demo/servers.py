"""Each department serves its own synthetic data on loopback, as it would in production.

DWP, DfE and DESNZ publish Parquet over HTTP (Starlette ``StaticFiles`` under uvicorn:
HEAD with Content-Length and ETag, single ranges answered with 206). HMRC keeps its files
in an S3-compatible store (moto in server mode), bucket ``hmrc-earnings``.

Every server counts the requests it answers and the response-body bytes it sends, itself,
so a test can prove from the data owner's side how much a client fetched.

    >>> with DepartmentServers(data_dir) as servers:          # doctest: +SKIP
    ...     servers.endpoints.as_variables()["DWP_DATA_URL"]
    'http://127.0.0.1:40123'

Moto keeps S3 state per process, so two ``DepartmentServers`` in one process share the
bucket; both upload the same files.
"""

from __future__ import annotations

import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["DEPARTMENTS", "DepartmentServers", "Endpoints", "serve_forever"]

DEPARTMENTS = ("DWP", "HMRC", "DfE", "DESNZ")
HMRC_BUCKET = "hmrc-earnings"
HMRC_PREFIX = "paye_employments/"
HMRC_KEY_ID = "hmrc-trust-demo"
HMRC_SECRET = "hmrc-trust-demo-secret"
HMRC_REGION = "eu-west-2"
_STATIC_DIRS = {"DWP": "dwp", "DfE": "dfe", "DESNZ": "desnz"}
_START_TIMEOUT = 10.0


@dataclass(frozen=True)
class Endpoints:
    dwp_url: str
    dfe_url: str
    desnz_url: str
    hmrc_s3_endpoint: str  # host:port without scheme, as DuckDB's S3 secret ENDPOINT wants
    hmrc_bucket: str = HMRC_BUCKET
    hmrc_key_id: str = HMRC_KEY_ID
    hmrc_secret: str = HMRC_SECRET
    hmrc_region: str = HMRC_REGION

    @property
    def hmrc_url(self) -> str:
        return f"http://{self.hmrc_s3_endpoint}"

    def as_variables(self) -> dict[str, str]:
        """Values for the ${NAME} placeholders in catalogue locations."""
        return {
            "DWP_DATA_URL": self.dwp_url,
            "DFE_DATA_URL": self.dfe_url,
            "DESNZ_DATA_URL": self.desnz_url,
            "HMRC_S3_ENDPOINT": self.hmrc_s3_endpoint,
            "HMRC_S3_BUCKET": self.hmrc_bucket,
        }


class _Counter:
    """Requests and response-body bytes; servers update it from their own threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.bytes = 0

    def add(self, *, requests: int = 0, nbytes: int = 0) -> None:
        with self._lock:
            self.requests += requests
            self.bytes += nbytes

    def snapshot(self) -> tuple[int, int]:
        with self._lock:
            return self.requests, self.bytes

    def reset(self) -> None:
        with self._lock:
            self.requests = self.bytes = 0


class _CountingASGI:
    def __init__(self, app: ASGIApp, counter: _Counter) -> None:
        self._app, self._counter = app, counter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        # A server offering pathsend would ship files without body messages we can count.
        extensions = {k: v for k, v in scope.get("extensions", {}).items() if k != "http.response.pathsend"}
        self._counter.add(requests=1)

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.body":
                self._counter.add(nbytes=len(message.get("body", b"")))
            await send(message)

        await self._app({**scope, "extensions": extensions}, receive, counting_send)


class _CountedBody:
    def __init__(self, body: Iterable[bytes], counter: _Counter) -> None:
        self._body, self._counter = body, counter

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._body:
            self._counter.add(nbytes=len(chunk))
            yield chunk

    def close(self) -> None:  # WSGI: the server must close the app's iterable
        close = getattr(self._body, "close", None)
        if close is not None:
            close()


class _CountingWSGI:
    def __init__(self, app: Callable[..., Iterable[bytes]], counter: _Counter) -> None:
        self._app, self._counter = app, counter

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> _CountedBody:
        self._counter.add(requests=1)
        return _CountedBody(self._app(environ, start_response), self._counter)


def _wait_until_responds(url: str, alive: Callable[[], bool], timeout: float = _START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError(f"server for {url} stopped while starting")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.01)
    raise RuntimeError(f"server at {url} did not answer within {timeout:.0f} s")


class _StaticServer:
    """A directory served by uvicorn in a background thread."""

    def __init__(self, directory: Path, counter: _Counter, host: str, port: int) -> None:
        app = Starlette(routes=[Mount("/", app=StaticFiles(directory=directory))])
        config = uvicorn.Config(
            _CountingASGI(app, counter),
            host=host,
            port=port,
            lifespan="off",
            access_log=False,
            log_config=None,
            log_level="warning",
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        # Binding here, not in uvicorn, makes port 0 usable and the port known at once.
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.url = f"http://{host}:{self._sock.getsockname()[1]}"
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, name=f"demo-static-{self.url}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()
        _wait_until_responds(self.url + "/", self._thread.is_alive)

    def request_stop(self) -> None:
        self._server.should_exit = True

    def join(self) -> None:
        self._thread.join(timeout=5)
        self._sock.close()


class _S3Server:
    """moto's S3 in server mode, under werkzeug in a background thread."""

    def __init__(self, counter: _Counter, host: str, port: int) -> None:
        try:  # the demo extra: not in the runtime (requirements/runtime.lock)
            from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
            from werkzeug.serving import make_server
        except ImportError as exc:
            from trust.errors import ConfigurationError

            raise ConfigurationError(
                f"the demo's S3 server needs the demo's packages ({exc.name} is missing): run `make demo`, "
                "or pip install -r requirements/demo.lock"
            ) from None

        class Handler(MotoRequestHandler):
            # werkzeug answers with "Connection: close", so no kept-alive handler outlives stop().
            def log_request(self, *args: Any, **kwargs: Any) -> None:
                pass  # no access log, like the static servers

        app = _CountingWSGI(DomainDispatcherApplication(create_backend_app), counter)
        self._server = make_server(host, port, app, threaded=True, request_handler=Handler)
        self.endpoint = f"{host}:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"demo-s3-{self.endpoint}",
            daemon=True,
        )

    def start(self) -> None:
        self._thread.start()
        _wait_until_responds(f"http://{self.endpoint}/", self._thread.is_alive)

    def upload(self, files: Iterable[Path], bucket: str) -> None:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import ClientError

        s3 = boto3.client(
            "s3",
            endpoint_url=f"http://{self.endpoint}",
            aws_access_key_id=HMRC_KEY_ID,
            aws_secret_access_key=HMRC_SECRET,
            region_name=HMRC_REGION,
            config=Config(s3={"addressing_style": "path"}),
        )
        try:
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": HMRC_REGION})
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise
        for path in files:
            s3.upload_file(str(path), bucket, HMRC_PREFIX + path.name)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


_buckets_lock = threading.Lock()
_buckets_claimed = 0


def _claim_bucket() -> str:
    """A bucket of this instance's own: moto keeps S3 state per process, so a second set of
    servers in the same process must not overwrite the first one's files."""
    global _buckets_claimed
    with _buckets_lock:
        _buckets_claimed += 1
        return HMRC_BUCKET if _buckets_claimed == 1 else f"{HMRC_BUCKET}-{_buckets_claimed}"


class DepartmentServers:
    """DWP, DfE and DESNZ over HTTP and HMRC over S3, each on its own loopback port."""

    def __init__(self, data_dir: Path, *, host: str = "127.0.0.1", ports: Mapping[str, int] | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.host = host
        self._ports = {d: 0 for d in DEPARTMENTS} | dict(ports or {})
        unknown = set(self._ports) - set(DEPARTMENTS)
        if unknown:
            raise ValueError(f"unknown department(s) {sorted(unknown)}; expected {DEPARTMENTS}")
        self._counters = {d: _Counter() for d in DEPARTMENTS}
        self._static: dict[str, _StaticServer] = {}
        self._s3: _S3Server | None = None
        self._endpoints: Endpoints | None = None

    def start(self) -> Endpoints:
        if self._endpoints is not None:
            return self._endpoints
        paye = sorted((self.data_dir / "hmrc" / HMRC_PREFIX).glob("part-*.parquet"))
        missing = [d for d in _STATIC_DIRS.values() if not (self.data_dir / d).is_dir()]
        if missing or not paye:
            raise FileNotFoundError(
                f"no demo data under {self.data_dir} (missing {missing or ['hmrc']}); "
                "run trust.demo.generate.ensure_generated first"
            )
        try:
            for dept, sub in _STATIC_DIRS.items():
                self._static[dept] = _StaticServer(
                    self.data_dir / sub, self._counters[dept], self.host, self._ports[dept]
                )
                self._static[dept].start()
            self._s3 = _S3Server(self._counters["HMRC"], self.host, self._ports["HMRC"])
            self._s3.start()
            self._bucket = _claim_bucket()
            self._s3.upload(paye, self._bucket)
        except BaseException:
            self.stop()
            raise
        self._endpoints = Endpoints(
            dwp_url=self._static["DWP"].url,
            dfe_url=self._static["DfE"].url,
            desnz_url=self._static["DESNZ"].url,
            hmrc_s3_endpoint=self._s3.endpoint,
            hmrc_bucket=self._bucket,
        )
        self.reset_counters()  # readiness probes and the upload are not client traffic
        return self._endpoints

    def stop(self) -> None:
        for server in self._static.values():
            server.request_stop()
        if self._s3 is not None:
            self._s3.stop()
        for server in self._static.values():
            server.join()
        self._static, self._s3, self._endpoints = {}, None, None

    @property
    def endpoints(self) -> Endpoints:
        if self._endpoints is None:
            raise RuntimeError("DepartmentServers not started; call start() or use it as a context manager")
        return self._endpoints

    def bytes_served(self) -> dict[str, int]:
        return {d: c.snapshot()[1] for d, c in self._counters.items()}

    def requests_served(self) -> dict[str, int]:
        return {d: c.snapshot()[0] for d, c in self._counters.items()}

    def reset_counters(self) -> None:
        for counter in self._counters.values():
            counter.reset()

    def __enter__(self) -> DepartmentServers:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def serve_forever(
    data_dir: Path,
    *,
    scale: float,
    seed: int,
    out: TextIO = sys.stdout,
    ports: Mapping[str, int] | None = None,
    host: str = "127.0.0.1",
) -> None:
    """Generate if needed, serve every department, print one `ready` line, block until stopped."""
    from trust.demo.generate import ensure_generated

    ensure_generated(Path(data_dir), scale=scale, seed=seed)
    stop = threading.Event()
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set()) if in_main else None
    try:
        with DepartmentServers(Path(data_dir), host=host, ports=ports) as servers:
            e = servers.endpoints
            print(
                f"ready DWP={e.dwp_url} DfE={e.dfe_url} DESNZ={e.desnz_url} "
                f"HMRC=s3://{e.hmrc_bucket}@{e.hmrc_s3_endpoint}",
                file=out,
                flush=True,
            )
            while not stop.wait(0.2):
                pass
    except KeyboardInterrupt:
        pass
    finally:
        if in_main and previous is not None:
            signal.signal(signal.SIGTERM, previous)
