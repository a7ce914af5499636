"""Literal masking: no string or number literal, and no password, survives."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftd.masking import mask, normalize
from tests.conftest import examples


@pytest.mark.parametrize(
    ("sql", "masked"),
    [
        ("CREATE ROLE bob LOGIN PASSWORD 'hunter2'", "CREATE ROLE bob LOGIN PASSWORD ?"),
        (
            "ALTER ROLE bob ENCRYPTED PASSWORD 'SCRAM-SHA-256$4096:abc'",
            "ALTER ROLE bob ENCRYPTED PASSWORD ?",
        ),
        ("ALTER USER u PASSWORD 'it''s'", "ALTER USER u PASSWORD ?"),
        (
            "ALTER TABLE t ADD c varchar(255) DEFAULT E'a\\'b'",
            "ALTER TABLE t ADD c varchar(?) DEFAULT ?",
        ),
        (
            "UPDATE t SET x = -1.5e3, y = .5, z = 0x1F, w = 1_000",
            "UPDATE t SET x = -?, y = ?, z = ?, w = ?",
        ),
        ("SELECT $1, t2.c3 FROM t2", "SELECT $1, t2.c3 FROM t2"),
        (
            'COMMENT ON TABLE "Weird""Name" IS \'ssn 123-45-6789\'',
            'COMMENT ON TABLE "Weird""Name" IS ?',
        ),
        ("COMMENT ON TABLE t IS $$jane@example.org$$", "COMMENT ON TABLE t IS ?"),
        ("SELECT U&'d\\0061t', B'101', X'1F', N'x'", "SELECT ?, ?, ?, ?"),
        ("ALTER TABLE t ADD c int -- was 'secret' 42", "ALTER TABLE t ADD c int"),
        ("ALTER /* 'x' /* nested 1 */ 2 */ TABLE t", "ALTER   TABLE t"),
        (
            "DO $$BEGIN EXECUTE 'DROP TABLE t'; PERFORM 42; END$$",
            "DO $$BEGIN EXECUTE ?; PERFORM ?; END$$",
        ),
        (
            "CREATE FUNCTION f() RETURNS int AS $body$ SELECT 7 $body$ LANGUAGE sql",
            "CREATE FUNCTION f() RETURNS int AS $body$ SELECT ? $body$ LANGUAGE sql",
        ),
        ("INSERT INTO t VALUES ('unterminated secret", "INSERT INTO t VALUES (?"),
        ("SELECT $$never closed", "SELECT ?"),
        ('ALTER ROLE a PASSWORD "odd"', "ALTER ROLE a PASSWORD ?"),
        ("ALTER ROLE a PASSWORD NULL", "ALTER ROLE a PASSWORD NULL"),
    ],
)
def test_mask(sql: str, masked: str) -> None:
    assert mask(sql) == masked


def test_mysql_dialect() -> None:
    assert mask("CREATE USER 'bob'@'%' IDENTIFIED BY \"pw\" # note 1", "mysql") == (
        "CREATE USER ?@? IDENTIFIED BY ?"
    )
    assert (
        mask("SELECT `col1` FROM t WHERE a = 'x\\'y'", "mysql")
        == "SELECT `col1` FROM t WHERE a = ?"
    )


def test_normalize() -> None:
    assert normalize("GRANT  SELECT\n ON t TO x;") == "grant select on t to x"


SECRET = "Zq7vK9xW"


@settings(max_examples=examples(300), deadline=1000)
@given(
    # No quote or comment opener before it: those would legitimately swallow the rest.
    prefix=st.text(alphabet=st.characters(blacklist_characters="'\"$-/*#\\`&"), max_size=40),
    quote=st.sampled_from(["'", "E'", "$$", "$tag$", "U&'", "B'"]),
)
def test_string_literals_never_survive(prefix: str, quote: str) -> None:
    close = {"E'": "'", "U&'": "'", "B'": "'"}.get(quote, quote)
    sql = f"SELECT {quote}{SECRET}{close} FROM t"
    # Whatever came before (an open quote or comment swallowing it is fine too).
    assert SECRET not in mask(prefix + " " + sql)


@settings(max_examples=examples(500), deadline=1000)
@given(st.text(max_size=300))
def test_mask_never_raises_and_is_idempotent(text: str) -> None:
    once = mask(text)
    assert mask(once) == once


@settings(max_examples=examples(200), deadline=1000)
@given(st.integers() | st.floats(allow_nan=False, allow_infinity=False))
def test_numbers_never_survive(number: float) -> None:
    out = mask(f"ALTER TABLE t ALTER c SET DEFAULT {number}")
    assert out.startswith("ALTER TABLE t ALTER c SET DEFAULT ")
    assert not re.search(r"\d", out)


@settings(max_examples=examples(300), deadline=1000)
@given(st.from_regex(r"PASSWORD\s+'[^']{1,20}'", fullmatch=True), st.text(max_size=50))
def test_passwords_never_survive(clause: str, tail: str) -> None:
    secret = clause.split("'")[1]
    out = mask("ALTER ROLE x " + clause + tail)
    assert f"'{secret}'" not in out
    assert re.search(r"PASSWORD\s+\?", out)
