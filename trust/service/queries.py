"""Queries: run the pipeline, protect the result, record the output; and read outputs back.

Every outcome is audited before it is returned. An output, its audit event and the populations
differencing needs commit in one transaction, so a later query is never checked against less than
what an analyst was shown.

A query reports its stage as it goes (``trust.service.progress``) and may be cancelled until its
output starts to be recorded: then it is audited as ``query_cancelled`` and made nothing. Run from a
program's main thread (the CLI, a notebook's kernel), the query runs on a thread of its own and the
main thread waits, so Ctrl-C or a kernel interrupt cancels it cleanly instead of landing mid-stage.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from trust.audit.kinds import EventKind
from trust.audit.log import AuditLog
from trust.catalog import Dataset, access_for
from trust.config import Config
from trust.engine.base import engine_for
from trust.engine.execute import Execution
from trust.engine.sandbox import sweep_spill
from trust.errors import KeyReused, QueryCancelled, QueryFailed, TrustError, UnknownName
from trust.outputs.output import Output, OutputSummary
from trust.policy import Policy
from trust.policy.explain import Explanation
from trust.sdc.differencing import Population
from trust.sdc.protect import protect
from trust.sdc.withhold import withhold
from trust.service import pipeline
from trust.service.access import Access
from trust.service.catalogue import Catalogue, engine_limits, spill_dir
from trust.service.gate import DepartmentGate
from trust.service.integrity import Integrity
from trust.service.progress import QueryProgress, Stage
from trust.sql.companions import KEY_PARAMETER
from trust.sql.rewrite import Plan
from trust.store import Remembered, StateStore
from trust.store.populations import ProjectHistory

RECORD_KEYS = "record_keys"
WATCH_S = 0.25  # how often a waiting main thread shows progress


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class Queries:
    def __init__(
        self, config: Config, store: StateStore, audit: AuditLog, access: Access, catalogue: Catalogue, policy: Policy
    ) -> None:
        self.config, self.store, self.audit = config, store, audit
        self.access, self.catalogue, self.policy = access, catalogue, policy
        self._secret: str | None = None
        self.gate = DepartmentGate(lambda department: config.department(department).max_reads)
        self.integrity = Integrity(store, audit)
        self._listing_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="trust-listing")
        self.engine = engine_for(config)  # DuckDB (a sandbox opened ahead of time per query) or Spark
        sweep_spill(spill_dir(config))  # what queries of a process that was killed spilled

    @property
    def limits(self) -> pipeline.Limits:
        c = self.config
        return pipeline.Limits(
            max_sql_length=c.max_sql_length,
            max_depth=c.max_depth,
            max_joins=c.max_joins,
            max_output_groups=c.max_output_groups,
        )

    def request(self, user_name: str, project_id: str, sql: str, *, offline: bool = False) -> pipeline.Request:
        user, project = self.access.user(user_name), self.access.project(project_id)
        catalog = self.catalogue.registrations() if offline else self.catalogue.bound()
        return pipeline.Request(
            sql=sql,
            user=user,
            project=project,
            catalog=catalog,
            policy=self.policy,
            limits=self.limits,
            today=dt.date.today().isoformat(),
            engine=self.engine.name,
        )

    def check(self, user_name: str, project_id: str, sql: str) -> pipeline.Checked:
        """Parse, validate, resolve, describe, decide and rewrite; raise if anything refuses."""
        return pipeline.check(self.request(user_name, project_id, sql))

    def explain(self, user_name: str, project_id: str, sql: str, *, offline: bool = False) -> Explanation:
        """What the same stages make of the query, and where they refuse; nothing runs or is recorded."""
        return pipeline.explain(
            self.request(user_name, project_id, sql, offline=offline), backend=self.policy.describe(), offline=offline
        )

    def run(
        self,
        user_name: str,
        project_id: str,
        sql: str,
        *,
        key: str | None = None,
        progress: QueryProgress | None = None,
        on_progress: Callable[[Mapping[str, object]], None] | None = None,
    ) -> Output:
        """The whole pipeline for one query; every outcome is audited before it is returned.

        With an idempotency ``key``, a retry of the same query by the same user returns the output the
        first one made (even across a restart) instead of running it again. ``progress`` is where the
        query's stages are kept and how it is cancelled; ``on_progress`` is called with its snapshot
        while the caller waits (from the caller's thread)."""
        progress = progress if progress is not None else QueryProgress()
        if on_progress is None and threading.current_thread() is not threading.main_thread():
            return self._run(user_name, project_id, sql, key, progress)
        return _wait_interruptibly(lambda: self._run(user_name, project_id, sql, key, progress), progress, on_progress)

    def _run(self, user_name: str, project_id: str, sql: str, key: str | None, progress: QueryProgress) -> Output:
        try:
            output = self._pipeline(user_name, project_id, sql, key, progress)
        except QueryCancelled:
            self.audit.record(
                EventKind.QUERY_CANCELLED,
                user_name,
                project_id,
                query=progress.id,
                sql=sql,
                stage=(progress.cancelled_at or progress.stage).value,
                via=progress.cancelled_via,
                bytes_read=progress.control.bytes_read,
            )
            progress.enter(Stage.CANCELLED)
            raise progress.cancelled_error() from None
        except BaseException:
            progress.enter(Stage.FAILED)
            raise
        progress.enter(Stage.DONE)
        return output

    def _pipeline(self, user_name: str, project_id: str, sql: str, key: str | None, progress: QueryProgress) -> Output:
        request_sha = _sha(f"{project_id}\n{sql}")
        progress.enter(Stage.POLICY)
        if key:
            first = self._remembered(user_name, key, request_sha)
            if first is not None:
                return self.output(user_name, first)
        stages: dict[str, float] = {}
        clock = time.perf_counter()
        try:
            checked = self.check(user_name, project_id, sql)
        except TrustError as exc:
            self.audit.record(
                EventKind.QUERY_REFUSED,
                user_name,
                project_id,
                sql=sql,
                error=type(exc).__name__,
                rule=exc.context.get("rule"),
                message=exc.message,
                # What the policy was asked, when it refused (for `trust policy diff`): no data, only the query's shape.
                **({"policy_input": dict(pi)} if (pi := getattr(exc, "policy_input", None)) is not None else {}),
            )
            raise
        plan = checked.plan
        started = time.monotonic()
        stages["check_s"], clock = time.perf_counter() - clock, time.perf_counter()
        try:
            progress.enter(Stage.WAITING)
            datasets = self.catalogue.require(plan.datasets)
            result = self._execute(plan, datasets, started, progress)
            stages["engine_s"], clock = time.perf_counter() - clock, time.perf_counter()
            stages.update({f"engine_{k}": v for k, v in result.timings.items()})
            progress.enter(Stage.DISCLOSURE)
            protect_started = clock
            protected = protect(
                result.table,
                plan,
                checked.decision.disclosure,
                max_rows=self.config.max_output_groups,
                history=ProjectHistory(self.store, project_id),
            )
            protected = withhold(protected)  # a small row's presence would answer a question: never shown
            stages["protect_s"], clock = time.perf_counter() - protect_started, time.perf_counter()
        except QueryCancelled:
            raise
        except TrustError as exc:
            self.audit.record(
                EventKind.QUERY_FAILED,
                user_name,
                project_id,
                sql=sql,
                error=type(exc).__name__,
                message=exc.message,
                **({"dataset": exc.context["dataset"]} if "dataset" in exc.context else {}),
            )
            raise
        output = Output(
            id="out-" + secrets.token_hex(6),
            user=user_name,
            project=project_id,
            created=_now(),
            sql=sql,
            executed_sql=plan.sql,
            table=protected.table,
            suppressed=protected.suppressed,
            report=protected.report,
            decision=checked.decision.to_json(),
            fingerprints={d.id: d.fingerprint for d in datasets},
            versions={d.id: d.version or "" for d in datasets},
            engine=self.engine.name,
            # Rows held by the datasets read: the engine reads every row of the needed columns, less
            # any row groups its statistics let it skip.
            stats={
                "elapsed_s": round(result.elapsed_s, 4),
                "rows": protected.table.num_rows,
                "datasets": {d.id: d.row_count for d in datasets},
                "rows_scanned": sum(d.row_count for d in datasets),
                "bytes_read": result.bytes_read,  # fetched from the departments (operators and benchmarks)
                "stages": stages,  # seconds per stage, for operators and benchmarks (not sent to analysts)
            },
        )
        remember = Remembered("query", request_sha, output.id) if key else None
        progress.enter(Stage.RECORDING)  # the last moment a cancel is honoured: after it the output stands
        stands = self.record(
            output,
            protected.populations,
            protected.scheme,
            key=remember,
            key_text=key,
            policy_input=checked.document,
        )
        stages["record_s"] = time.perf_counter() - clock
        return output if stands == output.id else self.output(user_name, stands)

    def _remembered(self, user_name: str, key: str, request_sha: str) -> str | None:
        with self.store.read() as tx:
            found = tx.idempotency.get(user_name, key)
        if found is None:
            return None
        if found.route != "query" or found.request_sha256 != request_sha:
            raise KeyReused(
                f"The idempotency key {key!r} was sent before with a different request; send a new key with each "
                "new query (a retry of the same query may reuse its key).",
            )
        return found.result

    def _execute(self, plan: Plan, datasets: list[Dataset], started: float, progress: QueryProgress) -> Execution:
        """Run ``plan`` over ``datasets`` with a read slot at each department, checking that what it
        read is each dataset's registered version (footers read, files a pattern matches)."""
        departments = tuple(sorted({d.department for d in datasets}))
        limits = engine_limits(self.config, departments)
        slots = self.gate.acquire(departments, limits.timeout_s - (time.monotonic() - started), check=progress.check)
        listing: Future[dict[str, tuple[str, ...]]] | None = None
        try:
            progress.enter(Stage.READING)
            if any(d.globbed for d in datasets):  # listed beside the query, so it adds no time
                listing = self._listing_pool.submit(self.catalogue.listing, datasets)
            result = self.engine.run(
                plan.sql,
                datasets,
                access_for(datasets, self.config.credentials),
                limits,
                departments=departments,
                parameters={KEY_PARAMETER: self.record_key_secret()} if plan.keyed else None,
                verify=tuple(f.url for d in datasets for f in d.files),
                on_finish=slots.release,
                wait_s=limits.timeout_s - (time.monotonic() - started),
                control=progress.control,
            )
        except QueryFailed:
            slots.release()
            # The engine refused the SQL: before blaming the query, make sure the files still are what
            # was registered (a column dropped or retyped at the source fails in the engine first).
            self.catalogue.verify_now(datasets)
            raise
        except BaseException:
            slots.release()
            raise
        self.catalogue.verify_digests(datasets, result.digests)
        if listing is not None:
            self.catalogue.verify_listing(datasets, listing.result(timeout=self.catalogue.bind_wait_s))
        return result

    def record_key_secret(self) -> str:
        """The secret under which units' record keys are made: created on first use, then the same for ever."""
        if self._secret is None:
            with self.store.write() as tx:
                self._secret = tx.secrets.get_or_create(RECORD_KEYS, secrets.token_hex(32), _now())
        return self._secret

    def record(
        self,
        output: Output,
        populations: Sequence[Population] = (),
        scheme: str = "",
        *,
        key: Remembered | None = None,
        key_text: str | None = None,
        policy_input: Mapping[str, object] | None = None,
    ) -> str:
        """Store an output with its audit event, its shown cells' populations and its idempotency key, in
        one transaction; the id of the output that stands (the first one, if the key raced in twice)."""
        with self.store.write() as tx:
            if key is not None and key_text:
                first = tx.idempotency.get(output.user, key_text)
                if first is not None:
                    return first.result
                tx.idempotency.put(output.user, key_text, key, output.created)
            tx.outputs.insert(output)
            if populations:
                tx.populations.insert(output.project, output.id, scheme, populations)
            self.audit.append(
                tx,
                EventKind.OUTPUT_CREATED,
                output.user,
                output.project,
                output=output.id,
                datasets=sorted(output.fingerprints),
                fingerprints=dict(output.fingerprints),
                versions=dict(output.versions),
                engine=output.engine,
                status=output.report.status.value,
                cells=dict(output.report.counts()),
                executed_sql_sha256=_sha(output.executed_sql),
                sql_sha256=_sha(output.sql),
                decision=dict(output.decision),
                content_sha256=tx.outputs.digest(output.id),
                # For operators (the store keeps no stats): the bytes read depend on the data, so no analyst sees them.
                bytes_read=output.stats.get("bytes_read"),
                # The policy input the decision was made on, for `trust policy diff` to replay.
                **({"policy_input": dict(policy_input)} if policy_input is not None else {}),
            )
        return output.id

    # -- stored outputs --------------------------------------------------------------------------
    def outputs(self, user_name: str, project: str | None = None) -> list[OutputSummary]:
        """Summaries of the stored outputs ``user_name`` may see, newest first."""
        user = self.access.user(user_name)
        projects = self.access.visible_projects(user, project)
        with self.store.read() as tx:
            return tx.outputs.list(projects=projects)

    def output(self, user_name: str, output_id: str) -> Output:
        """One stored output, if ``user_name`` may see its project. Another project's output gets the
        same answer as an id that does not exist, so asking says nothing about what is stored."""
        user = self.access.user(user_name)
        missing = UnknownName(f"No output {output_id!r} among your projects' outputs.", output=output_id)
        try:
            with self.store.read() as tx:
                summary = tx.outputs.summary(output_id)
        except UnknownName:
            raise missing from None
        if not self.access.can_see_project(user, summary.project):
            self.audit.record(EventKind.ACCESS_DENIED, user.name, summary.project, what="output", output=output_id)
            raise missing
        with self.store.read() as tx:
            self.integrity.check_output(tx, output_id, actor=user.name, project=summary.project)
            return tx.outputs.get(output_id)


def _wait_interruptibly(
    work: Callable[[], Output], progress: QueryProgress, on_progress: Callable[[Mapping[str, object]], None] | None
) -> Output:
    """Run ``work`` on a thread while this one waits (showing progress); a ``KeyboardInterrupt`` here
    cancels the query, which then stops at its next stage or by the engine's interrupt."""
    outcome: list[Output] = []
    error: list[BaseException] = []
    done = threading.Event()

    def target() -> None:
        try:
            outcome.append(work())
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            error.append(exc)
        finally:
            done.set()

    threading.Thread(target=target, name="trust-query", daemon=True).start()
    try:
        while not done.wait(WATCH_S):
            if on_progress is not None:
                on_progress(progress.snapshot())
    except KeyboardInterrupt:
        if not progress.cancel(via="interrupt"):  # too late: the output is being recorded, and will stand
            done.wait()
            raise
        done.wait()
    if error:
        raise error[0]
    return outcome[0]
