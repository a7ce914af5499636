"""The least-privilege accounts of docs/security.md suffice, and hide password hashes.

The grant is read from the docs page (between ``<!-- grant:ENGINE -->`` and
``<!-- /grant -->``), so the page and this test cannot diverge. For each engine:
the account cannot read a hash, its snapshot equals the administrator's but for
the documented fields, and drift made by the administrator is caught through it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import psycopg
import pymysql
import pytest
from sqlalchemy.engine import make_url

from driftd.collect import Target, collect
from driftd.collect.mysql import _grantee
from driftd.collect.sa_common import _mysql_privilege
from tests import test_collect_generic as generic
from tests.conftest import PgDatabase, Project
from tests.test_collect_generic import MyDatabase, mysql_admin

# The MariaDB fixtures: a throwaway database, its accounts dropped after the test.
mysql_server = generic.mysql_server
mydb = generic.mydb

SECURITY_MD = Path(__file__).resolve().parent.parent / "docs" / "security.md"
PASSWORD = "Least-Priv-Pass-1234"


def documented_grant(engine: str) -> list[str]:
    """The statements of the ``grant:ENGINE`` block of docs/security.md."""
    text = SECURITY_MD.read_text()
    match = re.search(
        rf"<!-- grant:{engine} -->\s*```sql\n(.*?)```\s*<!-- /grant -->", text, re.DOTALL
    )
    assert match, f"docs/security.md has no grant:{engine} block"
    return [s.strip() for s in match.group(1).split(";") if s.strip()]


def test_documented_grants_parse() -> None:
    mariadb = documented_grant("mariadb")
    assert mariadb[0].startswith("CREATE USER 'driftd'@'%'")
    assert all(s.startswith("GRANT ") for s in mariadb[1:])
    # No grant on a table that holds a hash, and none on all of mysql.
    assert not any(re.search(r"mysql\.(\*|global_priv)", s) for s in mariadb)
    user_columns = next(s for s in mariadb if "ON mysql.user " in s)
    assert "authentication_string" not in user_columns and "Password" not in user_columns
    assert documented_grant("postgresql")[0].startswith("CREATE ROLE driftd LOGIN")


def _check(project: Project, env: dict[str, str] | None = None) -> list[dict[str, Any]]:
    res = project.run("check", "--format", "json", env=env)
    report = json.loads(res.stdout)["environments"][0]
    assert report["error"] is None, report["error"]
    assert res.exit_code == (1 if report["drift"] else 0)
    return list(report["drift"])


def _changes(drift: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(item["object"], "|".join(item["path"])) for item in drift}


# -- MariaDB ----------------------------------------------------------------------------------

MY_SCHEMA = (
    """CREATE TABLE customers (
        id INT PRIMARY KEY, email VARCHAR(100) NOT NULL, note TEXT,
        created TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
        UNIQUE KEY uq_email (email), KEY ix_note (note(10)),
        CONSTRAINT email_len CHECK (char_length(email) > 3)
    )""",
    """CREATE TABLE orders (
        id INT PRIMARY KEY, customer_id INT, qty INT DEFAULT 1,
        CONSTRAINT fk_customer FOREIGN KEY (customer_id) REFERENCES customers (id)
    )""",
    "CREATE TRIGGER trg_orders AFTER INSERT ON orders FOR EACH ROW SET @last = NEW.id",
    "CREATE VIEW big_orders AS SELECT id, qty FROM orders WHERE qty > 10",
    "CREATE FUNCTION twice(a INT) RETURNS INT DETERMINISTIC RETURN a * 2",
    "CREATE PROCEDURE touch(IN n INT) SELECT n",
    "CREATE EVENT purge_old ON SCHEDULE EVERY 1 HOUR DISABLE DO DELETE FROM orders WHERE qty < 0",
    "CREATE SEQUENCE invoice_no START WITH 100",
    "CREATE USER '{p}app'@'%' IDENTIFIED BY 'App-Pass-1234' WITH MAX_USER_CONNECTIONS 5",
    "CREATE USER '{p}gone'@'localhost' IDENTIFIED BY 'Gone-Pass-1234' ACCOUNT LOCK",
    "CREATE ROLE {p}reader",
    "GRANT SELECT, INSERT ON `{db}`.orders TO '{p}app'@'%'",
    "GRANT SELECT (email), UPDATE (note) ON `{db}`.customers TO '{p}app'@'%' WITH GRANT OPTION",
    "GRANT SELECT, SHOW VIEW ON `{db}`.* TO {p}reader",
    "GRANT PROCESS ON *.* TO {p}reader",
    "GRANT CONNECTION ADMIN ON *.* TO '{p}app'@'%'",
    "GRANT {p}reader TO '{p}app'@'%'",
    "SET DEFAULT ROLE {p}reader FOR '{p}app'@'%'",
)


def _my_account(mydb: MyDatabase) -> str:
    """The documented MariaDB account, created for ``mydb`` under a unique name."""
    name = f"{mydb.prefix}driftd"
    statements = [
        s.replace("'driftd'@'%'", f"'{name}'@'%'")
        .replace("`app`", f"`{mydb.name}`")
        .replace("'...'", f"'{PASSWORD}'")
        for s in documented_grant("mariadb")
    ]
    mydb.execute(*statements)
    return name


def _my_connect(user: str) -> pymysql.connections.Connection[Any]:
    return pymysql.connect(host="127.0.0.1", user=user, password=PASSWORD, autocommit=True)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT authentication_string FROM mysql.user",
        "SELECT Password FROM mysql.user",
        "SELECT * FROM mysql.user",
        "SELECT Priv FROM mysql.global_priv",
        "SELECT JSON_VALUE(Priv, '$.account_locked') FROM mysql.global_priv",
        "SHOW GRANTS FOR '{p}app'@'%'",
        "SHOW CREATE USER '{p}app'@'%'",
    ],
)
def test_mariadb_account_cannot_read_hashes(mydb: MyDatabase, sql: str) -> None:
    mydb.execute("CREATE USER '{p}app'@'%' IDENTIFIED BY 'App-Pass-1234'")
    user = _my_account(mydb)
    with (
        _my_connect(user) as conn,
        conn.cursor() as cur,
        pytest.raises(pymysql.err.OperationalError) as refused,
    ):
        cur.execute(sql.replace("{p}", mydb.prefix))
    # 1142: table, 1143: column, 1227/1044: SHOW of another account.
    assert refused.value.args[0] in (1142, 1143, 1227, 1044), refused.value


def _my_target(mydb: MyDatabase, user: str | None) -> Target:
    url = mydb.url(username=user, password=PASSWORD) if user else mydb.url()
    shown = make_url(url).render_as_string(hide_password=True)
    return Target(environment="test", url=url, display_url=shown, roles=(f"{mydb.prefix}*",))


def test_mariadb_account_sees_what_root_sees(mydb: MyDatabase) -> None:
    mydb.execute(*MY_SCHEMA)
    user = _my_account(mydb)
    root = collect(_my_target(mydb, None)).objects
    least = collect(_my_target(mydb, user)).objects
    assert set(least) == set(root)
    p, db = mydb.prefix, mydb.name
    # The representative schema is all there (not two equally empty snapshots).
    assert root[f"table:{db}.orders"]["triggers"] and root[f"view:{db}.big_orders"]["definition"]
    assert {
        f"function:{db}.twice(a int(11))",
        f"event:{db}.purge_old",
        f"sequence:{db}.invoice_no",
    } <= set(root)
    assert root[f"table:{db}.customers"]["column_grants"]["email"] == {
        f"{p}app@%": ["SELECT WITH GRANT OPTION"]
    }
    assert root[f"role:{p}reader"]["grants"] == {
        "*.*": ["PROCESS"],
        f"{db}.*": ["SELECT", "SHOW VIEW"],
    }
    assert root[f"role:{p}app@%"]["member_of"] == {f"{p}reader": {"admin_option": False}}
    assert root[f"role:{p}gone@localhost"]["account_locked"] is True
    # The documented differences: a privilege with no mysql.user column (MariaDB
    # 10.5+) is the administrator's to see; the lock (and a user's login) is unknown.
    assert root[f"role:{p}app@%"]["grants"] == {"*.*": ["CONNECTION ADMIN"]}
    assert least[f"role:{p}app@%"]["grants"] == {}
    least[f"role:{p}app@%"]["grants"] = root[f"role:{p}app@%"]["grants"]
    for key, obj in root.items():
        other = dict(least[key])
        if key.startswith("role:"):
            is_role = "@" not in key
            assert other["account_locked"] is (False if is_role else None), key
            assert other["login"] is (False if is_role else None), key
            other["account_locked"], other["login"] = obj["account_locked"], obj["login"]
        assert other == obj, key


def test_mariadb_grant_tables_read_as_information_schema_shows_them(mydb: MyDatabase) -> None:
    """The grants read from mysql.db / tables_priv / columns_priv are exactly what
    information_schema's privilege views show an administrator."""
    mydb.execute(*MY_SCHEMA)
    objects = collect(_my_target(mydb, None)).objects
    got: dict[tuple[str, ...], set[str]] = {}
    for key, obj in objects.items():
        kind, _, name = key.partition(":")
        for grantee, privileges in (obj.get("grants") or {}).items():
            # A role's grants are {scope: [...]}: its database level only.
            if kind != "role" or grantee != "*.*":
                got[(name, grantee)] = set(privileges)
        for column, by_grantee in (obj.get("column_grants") or {}).items():
            for grantee, privileges in by_grantee.items():
                got[(name, column, grantee)] = set(privileges)
    want: dict[tuple[str, ...], set[str]] = {}
    p, db = mydb.prefix, mydb.name
    with mysql_admin() as conn, conn.cursor() as cur:
        for sql, key_of in (
            (
                "SELECT GRANTEE, PRIVILEGE_TYPE, IS_GRANTABLE, CONCAT(TABLE_SCHEMA, '.*') "
                "FROM information_schema.SCHEMA_PRIVILEGES WHERE TABLE_SCHEMA = %s",
                lambda g, rest: (g, rest[0]),
            ),
            (
                "SELECT GRANTEE, PRIVILEGE_TYPE, IS_GRANTABLE, CONCAT(TABLE_SCHEMA, '.', "
                "TABLE_NAME) FROM information_schema.TABLE_PRIVILEGES WHERE TABLE_SCHEMA = %s",
                lambda g, rest: (rest[0], g),
            ),
            (
                "SELECT GRANTEE, PRIVILEGE_TYPE, IS_GRANTABLE, CONCAT(TABLE_SCHEMA, '.', "
                "TABLE_NAME), COLUMN_NAME FROM information_schema.COLUMN_PRIVILEGES "
                "WHERE TABLE_SCHEMA = %s",
                lambda g, rest: (rest[0], rest[1], g),
            ),
        ):
            cur.execute(sql, (db,))
            for grantee, privilege, grantable, *rest in cur.fetchall():
                account = _grantee(grantee)
                if account.startswith(p):
                    text = _mysql_privilege(privilege, grantable)
                    want.setdefault(key_of(account, rest), set()).add(text or "")
    assert want and got == want


def _my_project(tmp_path: Path, mydb: MyDatabase, user: str) -> Project:
    url = make_url(mydb.url(username=user)).render_as_string(hide_password=False)
    project = Project.watching(tmp_path, url, mydb.prefix, 'password_env = "LEAST_PRIV_PW"')
    return project


def test_mariadb_drift_is_caught_through_the_account(tmp_path: Path, mydb: MyDatabase) -> None:
    mydb.execute(*MY_SCHEMA)
    user = _my_account(mydb)
    project = _my_project(tmp_path, mydb, user)
    env = {"LEAST_PRIV_PW": PASSWORD}
    res = project.run("baseline", "accept", "test", env=env)
    assert res.exit_code == 0, res.stdout + res.stderr
    assert _check(project, env) == []
    mydb.execute(
        "ALTER TABLE customers ADD COLUMN phone VARCHAR(20)",
        "GRANT INSERT (phone) ON `{db}`.customers TO '{p}app'@'%'",
        "GRANT DELETE ON `{db}`.orders TO '{p}app'@'%'",
        "GRANT SUPER ON *.* TO {p}reader",
        "GRANT CREATE ON `{db}`.* TO {p}reader",
        "DROP TRIGGER trg_orders",
        "CREATE OR REPLACE VIEW big_orders AS SELECT id, qty FROM orders WHERE qty > 99",
        "ALTER EVENT purge_old ENABLE",
        "DROP PROCEDURE touch",
        "REVOKE {p}reader FROM '{p}app'@'%'",
    )
    p, db = mydb.prefix, mydb.name
    got = _changes(_check(project, env))
    assert {
        (f"table:{db}.customers", "columns|phone"),
        (f"table:{db}.customers", "column_grants|phone"),
        (f"table:{db}.orders", f"grants|{p}app@%"),
        (f"table:{db}.orders", "triggers|trg_orders"),
        (f"role:{p}reader", "grants|*.*"),
        (f"role:{p}reader", f"grants|{db}.*"),
        (f"role:{p}reader", "superuser"),
        (f"view:{db}.big_orders", "definition"),
        (f"event:{db}.purge_old", "status"),
        (f"function:{db}.touch(IN n int(11))", ""),
        (f"role:{p}app@%", f"member_of|{p}reader"),
    } <= got, got


# -- PostgreSQL -------------------------------------------------------------------------------

PG_SCHEMA = """
CREATE ROLE {p}owner; CREATE ROLE {p}app LOGIN CONNECTION LIMIT 5; CREATE ROLE {p}reader;
GRANT {p}reader TO {p}app;
ALTER ROLE {p}app SET statement_timeout = '5s';
CREATE SCHEMA shop AUTHORIZATION {p}owner;
CREATE TABLE shop.customers (id int PRIMARY KEY, email text NOT NULL CHECK (length(email) > 3));
CREATE TABLE shop.orders (id int PRIMARY KEY, cid int REFERENCES shop.customers (id), qty int);
CREATE INDEX ix_qty ON shop.orders (qty);
CREATE VIEW shop.big AS SELECT id FROM shop.orders WHERE qty > 10;
CREATE MATERIALIZED VIEW shop.totals AS SELECT count(*) AS n FROM shop.orders;
CREATE SEQUENCE shop.invoice_no;
CREATE TYPE shop.mood AS ENUM ('sad', 'ok');
CREATE FUNCTION shop.twice(a int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT a * 2';
CREATE FUNCTION shop.stamp() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
  AS $$BEGIN RETURN NEW; END$$;
CREATE TRIGGER trg BEFORE INSERT ON shop.orders FOR EACH ROW EXECUTE FUNCTION shop.stamp();
ALTER TABLE shop.customers ENABLE ROW LEVEL SECURITY;
CREATE POLICY mine ON shop.customers USING (true);
GRANT USAGE ON SCHEMA shop TO {p}reader;
GRANT SELECT ON shop.customers TO {p}reader;
GRANT SELECT (email) ON shop.customers TO {p}app;
GRANT EXECUTE ON FUNCTION shop.twice(int) TO {p}app;
ALTER DEFAULT PRIVILEGES FOR ROLE {p}owner IN SCHEMA shop GRANT SELECT ON TABLES TO {p}reader;
COMMENT ON TABLE shop.customers IS 'people';
CREATE EXTENSION IF NOT EXISTS postgres_fdw;
CREATE SERVER {p}remote FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'db.internal');
CREATE USER MAPPING FOR {p}app SERVER {p}remote OPTIONS (user 'u', password 'Secret-1234');
"""


def _pg_account(pgdb: PgDatabase) -> str:
    name = pgdb.role("driftd")
    for statement in documented_grant("postgresql"):
        statement = re.sub(r"\bdriftd\b", name, statement).replace("'...'", f"'{PASSWORD}'")
        pgdb.execute(re.sub(r"\bDATABASE app\b", f'DATABASE "{pgdb.name}"', statement))
    return name


def _pg_target(pgdb: PgDatabase, user: str | None) -> Target:
    url = make_url(pgdb.url).set(username=user) if user else make_url(pgdb.url)
    return Target(
        environment="test",
        url=url.render_as_string(hide_password=False),
        roles=(f"{pgdb.prefix}*",),
    )


def test_postgres_account_cannot_read_hashes(pgdb: PgDatabase) -> None:
    user = _pg_account(pgdb)
    with pgdb.connect(user) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT rolpassword FROM pg_authid")


def test_postgres_account_sees_what_postgres_sees(pgdb: PgDatabase) -> None:
    pgdb.execute(PG_SCHEMA.replace("{p}", pgdb.prefix))
    user = _pg_account(pgdb)
    admin = collect(_pg_target(pgdb, None)).objects
    least = collect(_pg_target(pgdb, user)).objects
    assert set(least) == set(admin)
    p = pgdb.prefix
    mapping = f"user_mapping:{p}remote.{p}app"
    # The documented difference: a user mapping's options are the mapping user's own.
    assert admin[mapping]["options"] == {"user": "u", "password": "********"}
    assert least[mapping]["options"] == {}
    least[mapping] = admin[mapping]
    assert admin["table:shop.orders"]["triggers"] and admin[f"role:{p}app"]["config"]
    assert any(k.startswith("setting:") for k in admin)
    for key, obj in admin.items():
        assert least[key] == obj, key


def test_postgres_drift_is_caught_through_the_account(tmp_path: Path, pgdb: PgDatabase) -> None:
    pgdb.execute(PG_SCHEMA.replace("{p}", pgdb.prefix))
    user = _pg_account(pgdb)
    url = make_url(pgdb.url).set(username=user).render_as_string(hide_password=False)
    project = Project.watching(tmp_path, url, pgdb.prefix)
    res = project.run("baseline", "accept", "test")
    assert res.exit_code == 0, res.stdout + res.stderr
    assert _check(project) == []
    p = pgdb.prefix
    pgdb.execute(
        f"ALTER TABLE shop.orders ADD COLUMN note text; GRANT INSERT ON shop.orders TO {p}app;"
        f"ALTER ROLE {p}reader CREATEDB; DROP TRIGGER trg ON shop.orders;"
        "CREATE OR REPLACE VIEW shop.big AS SELECT id FROM shop.orders WHERE qty > 99"
    )
    got = _changes(_check(project))
    assert {
        ("table:shop.orders", "columns|note"),
        ("table:shop.orders", f"grants|{p}app"),
        ("table:shop.orders", "triggers|trg"),
        (f"role:{p}reader", "createdb"),
        ("view:shop.big", "definition"),
    } <= got, got
