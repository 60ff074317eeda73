"""The client on its own: typed errors rebuilt from HTTP, retries, polling and progress."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pyarrow as pa
import pytest

import trust
from trust import wire
from trust.client.client import ServerUnavailable
from trust.errors import ERRORS_BY_CODE, DatasetUnavailable, NotAuthenticated, PolicyDenied, QueryRejected, TrustError
from trust.outputs.output import Output
from trust.sdc.parameters import Parameters
from trust.sdc.report import CellReport, CellStatus, DisclosureReport


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("trust.client.client.time.sleep", lambda s: None)


def make_output() -> Output:
    table = pa.table({"la_code": ["E06000052", "E06000053"], "claimants": pa.array([306, None], pa.int64())})
    cells = (
        CellReport(0, "claimants", CellStatus.OK, units=306),
        CellReport(1, "claimants", CellStatus.SUPPRESSED, "min_units", units=3, detail="3 units < 10"),
    )
    return Output(
        id="out-abc",
        user="ana",
        project="p",
        created="now",
        sql="SELECT ...",
        executed_sql="SELECT secret",
        table=table,
        suppressed=((False, False), (False, True)),
        report=DisclosureReport(cells, Parameters()),
        decision={
            "allow": True,
            "obligations": {"row_filters": [{"expression": "la_code IN (...)"}], "disclosure": {"min_units": 10}},
        },
        fingerprints={"dwp.uc_claims": "f" * 64},
        stats={"elapsed_s": 0.5, "rows": 2},
    )


def client_with(handler: Callable[[httpx.Request], httpx.Response], **kwargs: object) -> trust.Client:
    return trust.Client("http://trust.test", token="lmdt_t", transport=httpx.MockTransport(handler), **kwargs)  # type: ignore[arg-type]


def _instance(cls: type[TrustError]) -> TrustError:
    if cls is PolicyDenied:
        return PolicyDenied([{"rule": "trust.not_a_member", "message": "ask the lead"}, {"rule": "b", "message": "c"}])
    if issubclass(cls, QueryRejected):
        return cls("no", rule="r", construct="c", position=(1, 2))
    return cls(f"{cls.__name__} happened", dataset="dwp.uc_claims")


@pytest.mark.parametrize("cls", sorted(ERRORS_BY_CODE.values(), key=lambda c: c.__name__))
def test_every_error_comes_back_as_the_same_class(cls: type[TrustError]):
    sent = _instance(cls)
    got = wire.error_from_body(sent.http_status, json.loads(json.dumps(wire.error_body(sent))))
    assert type(got) is cls
    assert got.message == sent.message and str(got) == str(sent)
    assert got.context == json.loads(json.dumps(sent.context))
    if isinstance(sent, QueryRejected):
        assert (got.rule, got.construct, got.position) == (sent.rule, sent.construct, sent.position)
    if isinstance(sent, PolicyDenied):
        assert got.denials == sent.denials


def test_unknown_codes_fall_back_on_the_status():
    assert type(wire.error_from_body(401, {"error": "???", "message": "m"})) is NotAuthenticated
    assert type(wire.error_from_body(403, {"error": "???", "message": "m"})) is trust.NotAuthorised
    assert type(wire.error_from_body(500, "<html>")) is TrustError


def test_reads_are_retried_after_connection_failures():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) < 3:
            raise httpx.ConnectError("refused")
        if len(calls) == 3:
            return httpx.Response(503, text="upstream gone")  # a proxy's 503: retried
        return httpx.Response(200, json={"status": "ok"})

    assert client_with(handler).health() == {"status": "ok"}
    assert len(calls) == 4


def test_the_trusts_own_errors_are_not_retried():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(503, json=wire.error_body(DatasetUnavailable("HMRC's server is down")))

    with pytest.raises(DatasetUnavailable, match="HMRC"):
        client_with(handler).outputs()
    assert len(calls) == 1


def test_an_unreachable_server_is_a_typed_error():
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    with pytest.raises(ServerUnavailable, match="could not be reached") as caught:
        client_with(handler, retries=2).me()
    assert isinstance(caught.value, TrustError)


def test_a_query_is_polled_with_progress_and_retried_under_one_key():
    out = make_output()
    meta = wire.output_meta(out, {"dwp.uc_claims": {"department": "DWP", "title": "UC", "rows": 1000}})
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if request.method == "POST" and len([r for r in requests if r.method == "POST"]) == 1:
            raise httpx.ReadTimeout("lost")
        if request.method == "POST":
            return httpx.Response(202, json={"query": "q-1", "state": "queued", "elapsed_s": 1, "timeout_s": 60})
        if len(requests) < 5:
            return httpx.Response(
                202, json={"query": "q-1", "state": "running", "elapsed_s": 3, "running_s": 2, "timeout_s": 60}
            )
        return httpx.Response(200, content=wire.output_to_arrow(out, meta), headers={"content-type": wire.ARROW_STREAM})

    seen: list[dict] = []
    got = client_with(handler, progress=seen.append, project="p").sql("SELECT ...")
    posts = [r for r in requests if r.method == "POST"]
    assert len(posts) == 2 and posts[0].headers["Idempotency-Key"] == posts[1].headers["Idempotency-Key"]
    assert json.loads(posts[0].content) == {"sql": "SELECT ...", "project": "p"}
    assert [r.url.path for r in requests if r.method == "GET"] == ["/v1/queries/q-1"] * 3
    assert [s["state"] for s in seen] == ["queued", "running", "running"]
    assert got.rows() == [("E06000052", 306), ("E06000053", "[c]")]
    assert got.suppressed == out.suppressed and got.report.summary() == out.for_analyst().report.summary()
    assert got.executed_sql == "" and "row_filters" not in json.dumps(got.decision)
    assert got.stats["rows_scanned"] == 1000 and got.stats["datasets"] == {"dwp.uc_claims": 1000}
    assert [c.units for c in got.report.cells] == [None, None]  # checkers' figures stay inside


def test_json_outputs_rebuild_too():
    out = make_output()
    body = wire.output_to_json(out, wire.output_meta(out, {}))
    assert body["rows"] == [["E06000052", 306], ["E06000053", None]]
    got = client_with(lambda r: httpx.Response(200, json=body)).output("out-abc")
    claimants = got.to_pandas()["claimants"]  # a number, and missing where suppressed ([c] in the views)
    assert got.rows() == out.rows() and str(claimants.dtype) == "Int64" and claimants.isna().tolist() == [False, True]
    assert claimants.sum() == 306 and got.suppressed_frame()["claimants"].tolist() == [False, True]


def test_configuration_and_repr():
    c = trust.Client("http://trust.test/", token="lmdt_secret")
    assert "lmdt_secret" not in repr(c) and c.url == "http://trust.test"
    with pytest.raises(trust.ConfigurationError, match="TRUST_URL"):
        trust.Client(token="x")
    with pytest.raises(trust.ConfigurationError, match="Which project"):
        c.sql("SELECT 1")
