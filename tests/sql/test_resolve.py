"""Stage 3: every table a catalogue dataset, every column traced to (dataset, column, role)."""

from __future__ import annotations

import pytest
from sqlglot import exp

from trust.catalog import Catalog
from trust.catalog.model import Role
from trust.errors import NotAllowed, ParseFailed, UnknownName
from trust.sql.parse import parse
from trust.sql.resolve import ColumnRef, Resolved, resolve
from trust.sql.validate import validate

UC = "dwp.uc_claims"


def _resolve(sql: str, catalog: Catalog) -> Resolved:
    parsed = parse(sql)
    validate(parsed)
    return resolve(parsed, catalog)


def _outputs(resolved: Resolved) -> list[set[str]]:
    """The catalogue columns behind each projection of the (first branch of the) result."""
    root = resolved.tree
    while isinstance(root, exp.Union):
        root = root.this
    return [
        {ref.qualified for col in proj.find_all(exp.Column) for ref in resolved.lineage[id(col)].all}
        for proj in root.expressions
    ]


def ref(dataset: str, column: str, role: Role = Role.DIMENSION) -> ColumnRef:
    return ColumnRef(dataset, column, role)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT region, count(*) FROM dwp.uc_claims GROUP BY region",
        "SELECT REGION, COUNT(*) FROM DWP.UC_CLAIMS GROUP BY REGION",
        'SELECT "region", count(*) FROM "dwp"."uc_claims" GROUP BY 1',
        'SELECT "REGION", count(*) FROM "DWP"."UC_CLAIMS" GROUP BY 1',
        'SELECT u.Region, count(*) FROM Dwp."Uc_Claims" AS U GROUP BY 1',
    ],
)
def test_quoting_and_case_variants_name_the_same_dataset(sql: str, catalog: Catalog) -> None:
    resolved = _resolve(sql, catalog)
    assert resolved.datasets == (UC,)
    assert _outputs(resolved)[0] == {"dwp.uc_claims.region"}


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT count(*) FROM dwp.u\u0441_claims",
        'SELECT count(*) FROM "dwp"."uc_cl\u0430ims"',
        "SELECT count(*) FROM dwp.uc_claims WHERE \u0440erson_id IS NULL",
    ],
)
def test_unicode_look_alikes_do_not_resolve(sql: str, catalog: Catalog) -> None:
    with pytest.raises(ParseFailed) as info:
        _resolve(sql, catalog)
    assert info.value.rule == "non_ascii_name" and "CYRILLIC" in info.value.construct


def test_quoted_name_with_a_dot_is_not_the_dataset(catalog: Catalog) -> None:
    with pytest.raises(NotAllowed) as info:
        _resolve('SELECT count(*) FROM "dwp.uc_claims"', catalog)
    assert info.value.rule == "quoted_dotted_name" and "dwp.uc_claims" in str(info.value)


def test_unknown_dataset_suggests_the_right_one(catalog: Catalog) -> None:
    with pytest.raises(UnknownName, match="Did you mean 'dwp.uc_claims'") as info:
        _resolve("SELECT count(*) FROM dwp.uc_claim", catalog)
    assert info.value.context["rule"] == "unknown_dataset"


def test_table_without_department_is_unknown(catalog: Catalog) -> None:
    with pytest.raises(UnknownName, match="department.dataset") as info:
        _resolve("SELECT count(*) FROM uc_claims", catalog)
    assert info.value.context["rule"] == "unknown_dataset" and "Did you mean 'dwp.uc_claims'" in str(info.value)


def test_unknown_column(catalog: Catalog) -> None:
    with pytest.raises(UnknownName) as info:
        _resolve("SELECT regoin, count(*) FROM dwp.uc_claims GROUP BY 1", catalog)
    assert info.value.context["rule"] == "unknown_column" and "Did you mean 'region'" in str(info.value)


def test_ambiguous_column_is_unknown(catalog: Catalog) -> None:
    with pytest.raises(UnknownName) as info:
        _resolve(
            "SELECT region, count(*) FROM dwp.uc_claims u JOIN dfe.learners l ON l.person_id = u.person_id GROUP BY 1",
            catalog,
        )
    assert info.value.context["rule"] == "unknown_column"


def test_cte_may_not_shadow_a_dataset(catalog: Catalog) -> None:
    with pytest.raises(NotAllowed) as info:
        _resolve(
            "WITH uc_claims AS (SELECT region FROM dwp.uc_claims) SELECT region, count(*) FROM dwp.uc_claims "
            "GROUP BY 1",
            catalog,
        )
    assert info.value.rule == "cte_shadows_dataset"


def test_lineage_through_ctes_subqueries_aliases(catalog: Catalog) -> None:
    sql = """
    WITH a AS (SELECT region AS r, award_amount AS amt FROM dwp.uc_claims),
         b AS (SELECT x.r AS area, x.amt * 12 AS annual FROM a AS x)
    SELECT t.area, sum(t.annual) FROM (SELECT area, annual FROM b) AS t GROUP BY t.area
    """
    assert _outputs(_resolve(sql, catalog)) == [{"dwp.uc_claims.region"}, {"dwp.uc_claims.award_amount"}]


def test_lineage_through_joins_and_using(catalog: Catalog) -> None:
    sql = """SELECT age_band, qualification_level, count(*) FROM dwp.uc_claims
             JOIN dfe.learners USING (person_id) GROUP BY ALL"""
    resolved = _resolve(sql, catalog)
    assert resolved.datasets == ("dfe.learners", UC)
    assert _outputs(resolved)[:2] == [{"dwp.uc_claims.age_band"}, {"dfe.learners.qualification_level"}]
    on = resolved.tree.find(exp.Join).args["on"]  # USING became ON with both sides qualified
    assert {c.table for c in on.find_all(exp.Column)} == {"uc_claims", "learners"}


def test_lineage_through_union_branches(catalog: Catalog) -> None:
    sql = """SELECT area, count(*) FROM (
               SELECT la_code AS area FROM dwp.uc_claims UNION ALL SELECT la_code FROM dfe.learners) t
             GROUP BY area"""
    assert _outputs(_resolve(sql, catalog))[0] == {"dwp.uc_claims.la_code", "dfe.learners.la_code"}


def test_star_expansion_uses_the_catalogue_schema(catalog: Catalog) -> None:
    resolved = _resolve("SELECT * FROM dfe.learners", catalog)
    names = [p.alias_or_name for p in resolved.tree.expressions]
    assert names == [c.name for c in catalog.get("dfe.learners").columns]


def test_star_in_a_subquery_is_pruned_to_what_is_used(catalog: Catalog) -> None:
    resolved = _resolve("SELECT region, count(*) FROM (SELECT * FROM dwp.uc_claims) t GROUP BY region", catalog)
    inner = resolved.tree.find(exp.Subquery).this
    assert [p.alias_or_name for p in inner.expressions] == ["region"]


def test_roles_come_from_the_catalogue(catalog: Catalog) -> None:
    resolved = _resolve("SELECT count(DISTINCT person_id), sum(award_amount), count(sex) FROM dwp.uc_claims", catalog)
    refs = {r for lin in resolved.lineage.values() for r in lin.all}
    assert refs == {
        ref(UC, "person_id", Role.LINKAGE_KEY),
        ref(UC, "award_amount", Role.MEASURE),
        ref(UC, "sex", Role.DIMENSION),
    }


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT count(nino) FROM dwp.uc_claims",
        "SELECT region, count(*) FROM (SELECT region, nino FROM dwp.uc_claims) t GROUP BY 1",
        'SELECT region, count(*) FROM (SELECT region, "NINO" AS x FROM dwp.uc_claims) t GROUP BY 1',
    ],
)
def test_a_direct_identifier_named_anywhere_is_refused(sql: str, catalog: Catalog) -> None:
    with pytest.raises(NotAllowed) as info:
        _resolve(sql, catalog)
    assert info.value.rule == "direct_identifier" and "dwp.uc_claims.nino" in str(info.value)


def test_values_versus_conditions(catalog: Catalog) -> None:
    resolved = _resolve(
        "SELECT CASE WHEN award_amount > 100 THEN region END AS r, count(*) FROM dwp.uc_claims GROUP BY 1", catalog
    )
    proj = resolved.tree.expressions[0]
    cols = {c.name: resolved.lineage[id(c)] for c in proj.find_all(exp.Column)}
    assert cols["award_amount"].values  # the column itself flows ...
    from trust.sql.resolve import flows

    flowing = {c.name for c in proj.find_all(exp.Column) if flows(c, proj)}
    assert flowing == {"region"}  # ... but only region's value reaches the result


def test_shaped_and_derived_flags(catalog: Catalog) -> None:
    sql = """WITH d AS (SELECT region, award_amount AS a, award_amount * 12 AS y, award_amount * award_amount AS sq,
                               CASE WHEN sex = 'F' THEN award_amount END AS f FROM dwp.uc_claims)
             SELECT region, sum(a), sum(y), sum(sq), sum(f) FROM d GROUP BY region"""
    resolved = _resolve(sql, catalog)
    lin = {
        c.name: resolved.lineage[id(c)]
        for c in resolved.tree.find_all(exp.Column)
        if c.table == "d" and c.find_ancestor(exp.Sum)
    }
    assert (lin["a"].shaped, lin["a"].derived) == (False, False)
    assert (lin["y"].shaped, lin["y"].derived) == (False, True)
    assert lin["sq"].shaped and lin["f"].shaped


def test_group_by_all_lists_the_non_aggregates(catalog: Catalog) -> None:
    resolved = _resolve(
        "SELECT region, upper(sex) AS s, count(*), sum(award_amount) FROM dwp.uc_claims GROUP BY ALL", catalog
    )
    keys = [k.sql("duckdb") for k in resolved.tree.args["group"].expressions]
    assert keys == ['"uc_claims"."region"', 'UPPER("uc_claims"."sex")']


def test_comments_do_not_survive(catalog: Catalog) -> None:
    resolved = _resolve("SELECT region /* a */, count(*) FROM dwp.uc_claims -- b\n GROUP BY region -- c", catalog)
    assert "/*" not in resolved.tree.sql("duckdb")


def test_types_are_annotated(catalog: Catalog) -> None:
    resolved = _resolve("SELECT tax_month + 1 AS m, count(*) FROM hmrc.paye_employments GROUP BY 1", catalog)
    add = resolved.tree.find(exp.Add)
    assert add.type is not None and add.type.this in exp.DataType.INTEGER_TYPES
