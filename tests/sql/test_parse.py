"""Stage 1: one SELECT exactly, and nothing the two parsers could read differently."""

from __future__ import annotations

import pytest

from trust.errors import ParseFailed
from trust.sql.parse import parse

Q = "SELECT region, count(*) FROM dwp.uc_claims GROUP BY region"


@pytest.mark.parametrize(
    "sql",
    [
        Q,
        Q + ";",
        Q + ";;",
        Q + " -- a comment",
        Q + " /* a comment */",
        "FROM dwp.uc_claims SELECT region, count(*) GROUP BY region",
        "SELECT region, count(*) FROM dwp.uc_claims WHERE region <> 'Ynys Môn' GROUP BY region",
        "SELECT region, count(*) FROM dwp.uc_claims GROUP BY region UNION ALL SELECT 'x', 1",
    ],
)
def test_one_select_is_read(sql: str) -> None:
    assert parse(sql).tree.key in {"select", "union"}


def _refusal(sql: str, **kwargs: int) -> ParseFailed:
    with pytest.raises(ParseFailed) as info:
        parse(sql, **kwargs)
    return info.value


@pytest.mark.parametrize(
    ("sql", "rule"),
    [
        ("", "empty_query"),
        ("  \n ", "empty_query"),
        ("SELECT 1; SELECT 2", "one_statement"),
        (Q + "; DROP TABLE dwp.uc_claims", "one_statement"),
        (";", "one_statement"),
        ("-- only a comment", "one_statement"),
        ("DROP TABLE dwp.uc_claims", "select_only"),
        ("CHECKPOINT", "select_only"),
        ("END", "select_only"),
        ("SHOW TABLES", "select_only"),
        ("CALL pragma_version()", "select_only"),
        ("EXPLAIN " + Q, "select_only"),
        ("SET threads = 1", "select_only"),
        ("SELECT FROM WHERE", "parse_error"),
        ("SELECT 'unclosed", "parse_error"),
    ],
)
def test_refusals_name_their_rule(sql: str, rule: str) -> None:
    assert _refusal(sql).rule == rule


@pytest.mark.parametrize("statement", ["CHECKPOINT", "END", "SHOW TABLES", "EXPLAIN " + Q])
def test_statements_sqlglot_half_reads_are_named(statement: str) -> None:
    err = _refusal(statement)
    word = statement.split()[0]
    assert word in err.construct.upper() and word in str(err).upper()


@pytest.mark.parametrize(
    ("char", "name"),
    [
        ("\x00", "U+0000"),
        ("\u00a0", "NO-BREAK SPACE"),
        ("\u200b", "ZERO WIDTH SPACE"),
        ("\u202e", "RIGHT-TO-LEFT OVERRIDE"),
        ("\ufeff", "ZERO WIDTH NO-BREAK SPACE"),
        ("\x0b", "U+000B"),
    ],
)
def test_invisible_and_control_characters(char: str, name: str) -> None:
    err = _refusal(f"SELECT region,{char}count(*) FROM dwp.uc_claims GROUP BY region")
    assert err.rule == "unusual_character"
    assert name in err.construct and err.position == (1, 15)


def test_control_character_position_counts_lines() -> None:
    err = _refusal("SELECT region,\n  count(*)\u200b FROM dwp.uc_claims GROUP BY region")
    assert err.position == (2, 11) and "line 2, column 11" in str(err)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT count(*) FROM dwp.u\u0441_claims",  # Cyrillic es
        'SELECT count(*) FROM "dwp"."u\u0441_claims"',
        "SELECT \u212aey, count(*) FROM dwp.uc_claims GROUP BY 1",  # Kelvin sign
        "SELECT count(*) FROM DWP.UC_CLA\u0130MS",  # dotted capital I
        "\uff33\uff25\uff2c\uff25\uff23\uff34 1",  # fullwidth SELECT
        'SELECT count(*) AS "n\u00fcmber" FROM dwp.uc_claims',
    ],
)
def test_look_alike_names_are_refused(sql: str) -> None:
    err = _refusal(sql)
    assert err.rule == "non_ascii_name"
    assert err.construct.startswith("U+") and err.position is not None


def test_non_ascii_is_fine_inside_string_literals_and_comments() -> None:
    parse(
        "SELECT region, count(*) FROM dwp.uc_claims WHERE region <> 'Pen-y-bont ar Ogwr – ô' GROUP BY region -- ünïcode"
    )


@pytest.mark.parametrize("op", ["~", "!~", "~~", "!~~", "~~*", "!~~*", "~*"])
def test_regex_operators(op: str) -> None:
    err = _refusal(f"SELECT region, count(*) FROM dwp.uc_claims WHERE la_code {op} 'E06' GROUP BY region")
    assert err.rule == "regex_operator" and err.position[0] == 1


def test_tilde_inside_a_string_is_fine() -> None:
    parse("SELECT region, count(*) FROM dwp.uc_claims WHERE region <> '~' GROUP BY region")


@pytest.mark.parametrize("text", ["0x10", "1e3x", "10abc"])
def test_numbers_glued_to_names(text: str) -> None:
    err = _refusal(f"SELECT region, count(*) FROM dwp.uc_claims WHERE length(region) > {text} GROUP BY region")
    assert err.rule == "ambiguous_number" and err.construct == text


def test_underscored_number_is_one_number() -> None:
    tree = parse("SELECT count(*) FROM dwp.uc_claims WHERE award_amount < 1_000").tree
    assert "1000" in tree.sql("duckdb")


@pytest.mark.parametrize("marker", ["$1", "?", "@ award_amount", "$name"])
def test_parameters(marker: str) -> None:
    err = _refusal(f"SELECT region, count(*) FROM dwp.uc_claims WHERE region = {marker} GROUP BY region")
    assert err.rule == "parameter"


def test_empty_list_item_is_refused() -> None:
    # sqlglot skips the empty item between two commas; DuckDB reports a syntax error.
    err = _refusal("SELECT region,, count(*) FROM dwp.uc_claims GROUP BY region")
    assert err.rule == "parse_error" and err.position == (1, 15)


def test_deep_brackets_are_refused_before_parsing() -> None:
    sql = "SELECT count(*) FROM dwp.uc_claims WHERE " + "(" * 49 + "true" + ")" * 49
    err = _refusal(sql, max_depth=12)
    assert err.rule == "nesting_too_deep" and err.position is not None


def test_parser_recursion_becomes_a_clean_refusal() -> None:
    # Each NOT is one level of sqlglot's recursive descent: far past Python's recursion limit.
    sql = "SELECT count(*) FROM dwp.uc_claims WHERE " + "NOT " * 3000 + "opted_out"
    err = _refusal(sql)
    assert err.rule == "nesting_too_deep"
    assert "Traceback" not in str(err) and "\n" not in str(err)


def test_length_limit() -> None:
    err = _refusal("SELECT 1 " + " " * 100, max_length=50)
    assert err.rule == "query_too_long" and "50" in str(err)


def test_parse_error_has_a_position() -> None:
    err = _refusal("SELECT region FROM dwp.uc_claims WHERE")
    assert err.rule == "parse_error" and err.position == (1, 38) and "line 1, column 38" in str(err)


def test_messages_are_one_line() -> None:
    for sql in ["SELECT 1; SELECT 2", "SELECT reg\u200bion", "SELECT FROM WHERE", "SHOW TABLES"]:
        assert "\n" not in str(_refusal(sql))
