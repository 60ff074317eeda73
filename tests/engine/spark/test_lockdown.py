"""The Spark lockdown against a real local session (``local[2]``, the ``spark`` fixture).

Each attack here works on a default Spark 4.3 session: a path table reads any file, ``reflect`` reads
the environment, ``SET`` turns ``runSQLOnFiles`` back on, ``'${env:HOME}'`` returns the home directory,
``TRANSFORM ... USING`` runs a shell. On the trust's session each is stopped twice where Spark can
stop it (its locked settings, ``trust.engine.spark.session.LOCKED_CONF``) and by the guard in front
of every query (``trust.engine.spark.guard``) where it cannot. What a test changes stays in its own
``newSession()``; the shared session is only read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlglot import exp

from trust.engine.spark import guard
from trust.errors import ConfigurationError, NotAllowed

VIEW = "trust_leaf_lockdown"
HOME = "'java.lang.System', 'getenv', 'HOME'"


@pytest.fixture()
def fresh(spark: Any) -> Any:
    """A session of its own on the shared context: it starts from the locked settings, and what a test
    sets in it goes nowhere else."""
    return spark.newSession()


def _spark_refuses(session: Any, sql: str, condition: str) -> None:
    with pytest.raises(Exception) as failure:  # noqa: PT011 - pyspark's exception classes vary by cause
        session.sql(sql).collect()
    assert condition in str(failure.value), str(failure.value)[:300]


def _guard_refuses(sql: str) -> None:
    with pytest.raises((guard.SparkSQLRefused, NotAllowed)):
        guard.check(sql, {VIEW})


def test_the_locked_session_passes_its_own_check(spark: Any, fresh: Any) -> None:
    guard.verify_session(spark)
    guard.verify_session(fresh)  # a query's session inherits the locked settings


def test_a_path_table_reads_nothing_even_past_the_guard(fresh: Any, tmp_path: Path) -> None:
    path = tmp_path / "people.parquet"
    pq.write_table(pa.table({"nino": ["AB123456C"]}), path)
    (tmp_path / "env.txt").write_text("SECRET=1\n")
    for sql in (f"SELECT * FROM parquet.`{path}`", f"SELECT value FROM text.`{tmp_path / 'env.txt'}`"):
        _guard_refuses(sql)
        _spark_refuses(fresh, sql, "TABLE_OR_VIEW_NOT_FOUND")


def test_set_is_refused_and_a_changed_setting_is_caught_before_the_next_query(fresh: Any, tmp_path: Path) -> None:
    _guard_refuses("SET spark.sql.runSQLOnFiles=true")
    # Past the guard, SET would work (runSQLOnFiles is a runtime setting) and the path table would read:
    fresh.sql("SET spark.sql.runSQLOnFiles=true")
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"a": [1]}), path)
    assert fresh.sql(f"SELECT * FROM parquet.`{path}`").collect()[0].a == 1
    # ... which is why each query's session is verified first.
    with pytest.raises(ConfigurationError, match=r"spark\.sql\.runSQLOnFiles"):
        guard.verify_session(fresh)


@pytest.mark.parametrize(
    "call",
    [
        f"reflect({HOME})",
        f"REFLECT({HOME})",
        f"`reflect`({HOME})",
        f"builtin.reflect({HOME})",
        f"system.builtin.reflect({HOME})",
        f"try_reflect({HOME})",
        "java_method('java.lang.System', 'getProperty', 'user.name')",
        f"upper(coalesce(NULL, reflect({HOME})))",
    ],
)
def test_reflection_is_refused_by_the_guard_and_by_spark(spark: Any, call: str) -> None:
    sql = f"SELECT {call} AS h"
    _guard_refuses(sql)
    _spark_refuses(spark, sql, "SQL_RESTRICTED_MODE")


def test_the_static_locks_cannot_be_lifted_from_a_session(fresh: Any) -> None:
    assert fresh.conf.get("spark.sql.restrictedMode.enabled") == "true"
    assert fresh.conf.get("spark.sql.reflect.allowList") == "(?!)"
    for key, value in (("spark.sql.restrictedMode.enabled", "false"), ("spark.sql.reflect.allowList", ".*")):
        _guard_refuses(f"SET {key}={value}")
        _spark_refuses(fresh, f"SET {key}={value}", "CANNOT_MODIFY_STATIC_CONFIG")
    guard.verify_session(fresh)


def test_a_script_transform_is_refused_by_the_guard_and_by_spark(spark: Any) -> None:
    sql = "SELECT TRANSFORM(1) USING 'cat' AS (a)"
    _guard_refuses(sql)
    _spark_refuses(spark, sql, "SQL_RESTRICTED_MODE")


def test_variable_references_stay_text(spark: Any) -> None:
    sql = "SELECT '${env:HOME}' AS h, '${system:user.name}' AS u, '${spark.app.name}' AS n"
    _guard_refuses(sql)
    row = spark.sql(sql).collect()[0]  # past the guard: not substituted
    assert (row.h, row.u, row.n) == ("${env:HOME}", "${system:user.name}", "${spark.app.name}")


def test_a_name_spark_reads_as_a_function_is_refused(spark: Any) -> None:
    """Spark cannot stop these: with no such column, ``user`` (even backquoted) is CURRENT_USER()."""
    for sql in ("SELECT `user` AS u", "SELECT session_user AS u", "SELECT `current_user` AS u"):
        _guard_refuses(sql)
        assert spark.sql(sql).collect()[0].u  # past the guard, the process's user name


def test_a_script_block_is_refused_by_the_guard_and_by_spark(spark: Any) -> None:
    sql = "BEGIN SELECT 1; END"
    _guard_refuses(sql)
    with pytest.raises(Exception):  # noqa: B017, PT011 - scripting is off: the parser rejects BEGIN
        spark.sql(sql).collect()


@pytest.mark.parametrize(
    "value",
    [
        "it's",
        "back\\slash\\",
        "x\\' , reflect('java.lang.System', 'getenv', 'HOME') AS y --",
        "' || reflect('java.lang.System','getenv','HOME') || '",
        "*/ SELECT 1 /*",
        "line\nbreak\r\ttab \u2028 é",
        'double "quotes" and `backticks`',
    ],
)
def test_a_literal_stays_one_literal_in_the_guard_and_in_spark(spark: Any, value: str) -> None:
    """sqlglot writes the literal, the guard reads it, Spark reads it: all three agree where it ends."""
    sql = exp.select(exp.alias_(exp.Literal.string(value), "s", quoted=True)).sql("spark")
    guard.check(sql, {VIEW})
    assert spark.sql(sql).collect()[0].s == value


def test_the_generated_surface_runs_on_the_locked_session(fresh: Any) -> None:
    """What the generator relies on (keyed hashes, LISTAGG with FILTER, the largest contributions, a
    struct's field, grouping sets) passes the guard and runs under restricted mode."""
    rows = [("p1", "R1", 10.0), ("p2", "R1", 5.0), ("p3", "R2", 7.0), ("p3", "R2", 1.0)]
    fresh.createDataFrame(rows, "person_id string, region string, pay double").createOrReplaceTempView(VIEW)
    sql = (
        "SELECT `v`.`region` AS `region`, COUNT(*) AS `n`, "
        "CAST(COALESCE(SUM(DISTINCT CAST(CONV(SUBSTRING(SHA2(:trust_key || ':' || CAST((`v`.`person_id`) AS STRING), "
        "256), 1, 16), 16, 10) AS DECIMAL(20, 0))), 0) % 4294967296 AS BIGINT) AS `k`, "
        "(LISTAGG(CAST(CONV(SUBSTRING(MD5(`v`.`person_id`), 1, 16), 16, 10) AS DECIMAL(20, 0)), ',') "
        "FILTER(WHERE NOT `v`.`person_id` IS NULL)) AS `population`, "
        "SLICE(SORT_ARRAY(COLLECT_LIST(CAST(`v`.`pay` AS DOUBLE)) FILTER(WHERE `v`.`pay` > 0), FALSE), 1, 2) AS `top`, "
        "MAX(STRUCT(`v`.`pay` AS `p`, `v`.`person_id` AS `u`)).`p` AS `largest`, "
        "GROUPING(`v`.`region`) AS `g` "
        f"FROM {VIEW} AS `v` GROUP BY GROUPING SETS ((`v`.`region`), ()) ORDER BY `region` NULLS LAST"
    )
    guard.check(sql, {VIEW})
    guard.verify_session(fresh)
    out = fresh.sql(sql, args={"trust_key": "not-the-real-secret"}).collect()
    assert [(r.region, r.n, r.top, r.largest, r.g) for r in out] == [
        ("R1", 2, [10.0, 5.0], 10.0, 0),
        ("R2", 2, [7.0, 1.0], 7.0, 0),
        (None, 4, [10.0, 7.0], 10.0, 1),
    ]
    assert all(0 <= r.k < 2**32 and len(r.population.split(",")) == r.n for r in out)
