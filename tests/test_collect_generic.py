"""The SQLite and MySQL/MariaDB collector against real databases.

SQLite databases are files in tmp_path. MariaDB tests talk to the server at
``DRIFTD_TEST_MYSQL`` (default ``mysql+pymysql://root@127.0.0.1:3306``); each
test gets its own database and account prefix and removes them afterwards.
"""

from __future__ import annotations

import os
import re
import secrets
import sqlite3
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymysql
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

from driftd import canonical
from driftd.collect import Collected, Target, collect
from driftd.collect.ddl_tokens import normalize_sql
from driftd.collect.inspector import inspected_objects
from driftd.collect.mysql import mysql_read_only_session
from driftd.errors import CollectError


def changed_paths(before: Any, after: Any, path: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """The shallowest paths where two snapshots' objects differ (like a drift item's path)."""
    if isinstance(before, dict) and isinstance(after, dict):
        out: set[tuple[str, ...]] = set()
        for key in before.keys() | after.keys():
            if key not in before or key not in after:
                out.add((*path, key))
            else:
                out |= changed_paths(before[key], after[key], (*path, key))
        return out
    return set() if before == after else {path}


def sqlite_target(path: Path, **kw: Any) -> Target:
    return Target(environment="test", url=f"sqlite:///{path}", **kw)


# -- SQLite -----------------------------------------------------------------------------------

SQLITE_SCHEMA = """
PRAGMA user_version = 3;
CREATE TABLE customers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT NOT NULL UNIQUE,
    name VARCHAR(50) DEFAULT 'anon' COLLATE NOCASE,
    created DATETIME DEFAULT CURRENT_TIMESTAMP,
    CHECK (length(email) > 3)
);
CREATE TABLE orders (
    id INTEGER NOT NULL,
    customer_id INTEGER REFERENCES customers (id) ON DELETE CASCADE,
    qty INTEGER CONSTRAINT qty_positive CHECK (qty > 0),
    total NUMERIC(10,2) GENERATED ALWAYS AS (qty * 2) STORED,
    CONSTRAINT orders_pk PRIMARY KEY (id)
) WITHOUT ROWID;
CREATE TABLE tags (id INTEGER PRIMARY KEY, label TEXT NOT NULL);
CREATE INDEX ix_orders_qty ON orders (qty DESC) WHERE qty > 1;
CREATE TRIGGER trg_orders_touch AFTER INSERT ON orders
BEGIN
    UPDATE customers SET name = name WHERE id = NEW.customer_id;
END;
CREATE VIEW big_orders AS
    SELECT id, qty
      FROM orders
     WHERE qty > 10;
"""


def sqlite_exec(path: Path, script: str) -> None:
    """Run a script as an application would, from its own connection."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA synchronous = OFF")  # no fsync per statement: keeps tests fast
        conn.executescript(script)
        conn.commit()
    finally:
        conn.close()


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Path:
    path = tmp_path / "app.db"
    sqlite_exec(path, SQLITE_SCHEMA)
    return path


def test_sqlite_snapshot_shape(sqlite_db: Path) -> None:
    got = collect(sqlite_target(sqlite_db))

    assert got.engine == {"dialect": "sqlite", "server_version": sqlite3.sqlite_version}
    assert set(got.objects) == {
        "database:main",
        "table:main.customers",
        "table:main.orders",
        "table:main.tags",
        "view:main.big_orders",
    }
    assert got.objects["database:main"] == {
        "encoding": "UTF-8",
        "user_version": 3,
        "application_id": 0,
        "auto_vacuum": "none",
        "journal_mode": "delete",
    }
    customers = got.objects["table:main.customers"]
    assert customers["columns"]["id"] == {
        "type": "INTEGER",
        "nullable": True,
        "default": None,
        "autoincrement": True,
        "generated": None,
        "collation": None,
        "comment": None,
    }
    assert customers["columns"]["name"]["default"] == "'anon'"
    assert customers["columns"]["name"]["collation"] == "NOCASE"
    assert customers["columns"]["email"]["nullable"] is False
    # Unnamed constraints get deterministic names.
    assert customers["constraints"] == {
        "pk": {"type": "primary_key", "definition": "PRIMARY KEY (id)"},
        "uq_email": {"type": "unique", "definition": "UNIQUE (email)"},
        "ck_1": {"type": "check", "definition": "CHECK (length(email) > 3)"},
    }
    # The autoindex behind UNIQUE (email) is not an index of its own.
    assert customers["indexes"] == {}

    orders = got.objects["table:main.orders"]
    assert orders["constraints"] == {
        "orders_pk": {"type": "primary_key", "definition": "PRIMARY KEY (id)"},
        "fk_customer_id_customers": {
            "type": "foreign_key",
            "definition": "FOREIGN KEY (customer_id) REFERENCES main.customers (id) "
            "ON DELETE CASCADE",
        },
        "qty_positive": {"type": "check", "definition": "CHECK (qty > 0)"},
    }
    assert orders["columns"]["total"]["generated"] == "qty * 2 STORED"
    assert orders["columns"]["total"]["type"] == "NUMERIC(10,2)"
    assert orders["indexes"] == {
        "ix_orders_qty": {
            "definition": "CREATE INDEX ix_orders_qty ON main.orders (qty DESC) WHERE qty > 1",
            "unique": False,
        }
    }
    assert orders["triggers"] == {
        "trg_orders_touch": {
            "definition": "CREATE TRIGGER trg_orders_touch AFTER INSERT ON orders BEGIN "
            "UPDATE customers SET name = name WHERE id = NEW.customer_id; END"
        }
    }
    assert orders["options"] == {"without_rowid": True, "strict": False}
    assert orders["comment"] is None
    assert got.objects["view:main.big_orders"] == {
        "definition": "SELECT id, qty FROM orders WHERE qty > 10",
        "comment": None,
        "triggers": {},
    }


def test_sqlite_text_only_details(tmp_path: Path) -> None:
    """What only the CREATE TABLE text says: names, DEFERRABLE, collations, odd types."""
    path = tmp_path / "edge.db"
    sqlite_exec(
        path,
        """
        CREATE TABLE parent (id INTEGER PRIMARY KEY, k1 INT, k2 INT, UNIQUE (k1, k2));
        CREATE TABLE "Odd Name" (
            "my col" INTEGER PRIMARY KEY,
            doc JSONB,
            untyped,
            derived INTEGER GENERATED ALWAYS AS ("my col" + 1) VIRTUAL,
            a1 INT, a2 INT,
            parent_id INTEGER CONSTRAINT fk_parent REFERENCES parent
                ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED,
            CONSTRAINT fk_pair FOREIGN KEY (a1, a2) REFERENCES parent (k1, k2),
            CONSTRAINT pk CHECK (a1 <> 0),
            CHECK (a2 IN (1, 2)),
            CHECK (a1 < 100)
        );
        CREATE TABLE strict_one (id INTEGER PRIMARY KEY, n INT) STRICT, WITHOUT ROWID;
        CREATE TABLE twins (a INT CONSTRAINT c CHECK (a > 0), b INT CONSTRAINT c CHECK (b > 0));
        CREATE INDEX "odd idx" ON "Odd Name" (lower(doc), a1 COLLATE NOCASE);
        CREATE VIEW v (x, y) AS SELECT a1, a2 FROM "Odd Name";
        """,
    )
    odd = collect(sqlite_target(path)).objects["table:main.Odd Name"]

    assert odd["columns"]["doc"]["type"] == "JSONB"  # not folded into an affinity
    assert odd["columns"]["untyped"]["type"] == ""
    assert odd["columns"]["derived"]["generated"] == '"my col" + 1 VIRTUAL'
    assert odd["options"] == {"without_rowid": False, "strict": False}
    assert odd["constraints"] == {
        # A real constraint named "pk" keeps its name; the generated one moves aside.
        "pk": {"type": "check", "definition": "CHECK (a1 <> 0)"},
        "pk_2": {"type": "primary_key", "definition": 'PRIMARY KEY ("my col")'},
        "fk_parent": {
            "type": "foreign_key",
            "definition": "FOREIGN KEY (parent_id) REFERENCES main.parent (id) "
            "ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED",
        },
        "fk_pair": {
            "type": "foreign_key",
            "definition": "FOREIGN KEY (a1, a2) REFERENCES main.parent (k1, k2)",
        },
        "ck_1": {"type": "check", "definition": "CHECK (a2 IN (1, 2))"},
        "ck_2": {"type": "check", "definition": "CHECK (a1 < 100)"},
    }
    assert odd["indexes"] == {
        "odd idx": {
            "definition": 'CREATE INDEX "odd idx" ON main."Odd Name" '
            "(lower(doc), a1 COLLATE NOCASE)",
            "unique": False,
        }
    }
    objects = collect(sqlite_target(path)).objects
    assert objects["view:main.v"]["definition"] == '(x, y) AS SELECT a1, a2 FROM "Odd Name"'
    assert objects["table:main.strict_one"]["options"] == {"without_rowid": True, "strict": True}
    # SQLite accepts two constraints of one name: neither hides the other.
    assert objects["table:main.twins"]["constraints"] == {
        "c": {"type": "check", "definition": "CHECK (a > 0)"},
        "c_2": {"type": "check", "definition": "CHECK (b > 0)"},
    }


def test_normalize_sql_keeps_literals() -> None:
    sql = "SELECT  'a   b' ,\n\t\"x  y\"  -- note\nFROM t /* c */ WHERE z = 1 ;"
    assert normalize_sql(sql) == "SELECT 'a   b' , \"x  y\" FROM t WHERE z = 1"


REBUILD_TAGS = """
CREATE TABLE tags_new ({columns});
INSERT INTO tags_new SELECT * FROM tags;
DROP TABLE tags;
ALTER TABLE tags_new RENAME TO tags;
"""

SQLITE_CHANGES = [
    pytest.param(
        "ALTER TABLE orders ADD COLUMN note TEXT",
        {("table:main.orders", "columns", "note")},
        id="add-column",
    ),
    pytest.param(
        REBUILD_TAGS.format(columns="id INTEGER PRIMARY KEY, label VARCHAR(40) NOT NULL"),
        {("table:main.tags", "columns", "label", "type")},
        id="change-type-by-rebuild",
    ),
    pytest.param(
        REBUILD_TAGS.format(columns="id INTEGER PRIMARY KEY, label TEXT"),
        {("table:main.tags", "columns", "label", "nullable")},
        id="drop-not-null-by-rebuild",
    ),
    pytest.param(
        REBUILD_TAGS.format(
            columns="id INTEGER PRIMARY KEY, label TEXT NOT NULL, CHECK (length(label) > 0)"
        ),
        {("table:main.tags", "constraints", "ck_1")},
        id="add-check-by-rebuild",
    ),
    pytest.param(
        "ALTER TABLE tags RENAME COLUMN label TO title",
        {("table:main.tags", "columns", "label"), ("table:main.tags", "columns", "title")},
        id="rename-column",
    ),
    pytest.param(
        "DROP INDEX ix_orders_qty",
        {("table:main.orders", "indexes", "ix_orders_qty")},
        id="drop-index",
    ),
    pytest.param(
        "CREATE UNIQUE INDEX ux_tags_label ON tags (label)",
        {("table:main.tags", "indexes", "ux_tags_label")},
        id="add-unique-index",
    ),
    pytest.param(
        "CREATE TRIGGER trg_tags AFTER DELETE ON tags BEGIN SELECT 1; END",
        {("table:main.tags", "triggers", "trg_tags")},
        id="add-trigger",
    ),
    pytest.param(
        "DROP VIEW big_orders; CREATE VIEW big_orders AS SELECT id, qty FROM orders WHERE qty > 20",
        {("view:main.big_orders", "definition")},
        id="change-view",
    ),
    pytest.param(
        "DROP VIEW big_orders;\n"
        "CREATE VIEW big_orders AS SELECT id,   qty -- same\nFROM orders WHERE qty > 10",
        set(),
        id="reformat-view-is-not-drift",
    ),
    pytest.param("DROP VIEW big_orders", {("view:main.big_orders",)}, id="drop-view"),
    pytest.param("CREATE TABLE extra (id INTEGER)", {("table:main.extra",)}, id="add-table"),
    pytest.param("INSERT INTO tags (label) VALUES ('x')", set(), id="data-is-not-drift"),
    pytest.param("PRAGMA user_version = 4", {("database:main", "user_version")}, id="user-version"),
]


@pytest.mark.parametrize(("script", "expected"), SQLITE_CHANGES)
def test_sqlite_out_of_band_change(
    sqlite_db: Path, script: str, expected: set[tuple[str, ...]]
) -> None:
    before = collect(sqlite_target(sqlite_db))
    sqlite_exec(sqlite_db, script)
    after = collect(sqlite_target(sqlite_db))
    assert changed_paths(before.objects, after.objects) == expected


def test_sqlite_deterministic(sqlite_db: Path) -> None:
    first = collect(sqlite_target(sqlite_db))
    second = collect(sqlite_target(sqlite_db))
    assert first == second
    assert canonical.dumps(first.objects) == canonical.dumps(second.objects)


def test_sqlite_is_opened_read_only(sqlite_db: Path) -> None:
    data, mtime = sqlite_db.read_bytes(), sqlite_db.stat().st_mtime_ns
    listing = sorted(os.listdir(sqlite_db.parent))
    collect(sqlite_target(sqlite_db))
    assert sqlite_db.read_bytes() == data
    assert sqlite_db.stat().st_mtime_ns == mtime
    assert sorted(os.listdir(sqlite_db.parent)) == listing


def test_sqlite_missing_file_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "nope.db"
    with pytest.raises(CollectError) as err:
        collect(sqlite_target(missing))
    assert err.value.message == f"cannot open SQLite database {missing}: no such file"
    assert err.value.hint
    assert os.listdir(tmp_path) == []


def test_sqlite_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"just some text\n" * 100)
    with pytest.raises(CollectError, match="not a database") as err:
        collect(sqlite_target(path))
    assert err.value.hint and "SQLite database file" in err.value.hint
    assert path.read_bytes() == b"just some text\n" * 100


def test_sqlite_in_memory_url_is_refused() -> None:
    with pytest.raises(CollectError, match="in-memory"):
        collect(Target(environment="test", url="sqlite://"))


def test_sqlite_locked_gives_up_after_lock_timeout(sqlite_db: Path) -> None:
    writer = sqlite3.connect(sqlite_db, isolation_level=None)
    try:
        writer.execute("BEGIN EXCLUSIVE")
        with pytest.raises(CollectError, match="locked") as err:
            collect(sqlite_target(sqlite_db, lock_timeout=0.1))
        assert err.value.hint and "lock_timeout" in err.value.hint
    finally:
        writer.close()


def test_sqlite_schema_filter(sqlite_db: Path) -> None:
    got = collect(sqlite_target(sqlite_db, exclude_schemas=("main",)))
    assert set(got.objects) == {"database:main"}


def test_inspector_fallback_on_sqlite(sqlite_db: Path) -> None:
    """The path used for dialects without a native reader, exercised through SQLite."""
    engine = create_engine(f"sqlite:///{sqlite_db}")
    try:
        with engine.connect() as conn:
            objects = inspected_objects(conn, ["main"])
    finally:
        engine.dispose()
    assert set(objects) == {
        "table:main.customers",
        "table:main.orders",
        "table:main.tags",
        "view:main.big_orders",
    }
    customers = objects["table:main.customers"]
    assert customers["columns"]["name"]["type"] == "VARCHAR(50)"
    assert customers["constraints"]["pk"]["definition"] == "PRIMARY KEY (id)"
    assert objects["view:main.big_orders"]["definition"].startswith("CREATE VIEW big_orders AS")


# -- MySQL / MariaDB --------------------------------------------------------------------------

MYSQL_URL = os.environ.get("DRIFTD_TEST_MYSQL", "mysql+pymysql://root@127.0.0.1:3306")
MYSQL_START_HINT = (
    "MariaDB is not reachable at {url} ({error}).\n"
    "Start it: start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd\n"
    "or point DRIFTD_TEST_MYSQL at a server where the user may create databases and users."
)


def mysql_admin(database: str | None = None) -> pymysql.connections.Connection[Any]:
    u = make_url(MYSQL_URL)
    return pymysql.connect(
        host=u.host or "127.0.0.1",
        port=u.port or 3306,
        user=u.username or "root",
        password=u.password or "",
        database=database,
        autocommit=True,
        connect_timeout=5,
    )


@pytest.fixture(scope="module")
def mysql_server() -> None:
    try:
        mysql_admin().close()
    except pymysql.err.Error as exc:
        pytest.fail(MYSQL_START_HINT.format(url=MYSQL_URL, error=exc), pytrace=False)


@dataclass
class MyDatabase:
    """A throwaway MariaDB database plus an account-name prefix owned by one test."""

    name: str
    prefix: str

    def url(self, database: str | None = "", **parts: Any) -> str:
        u = make_url(MYSQL_URL).set(database=self.name if database == "" else database, **parts)
        return u.render_as_string(hide_password=False)

    def target(self, database: str | None = "", **kw: Any) -> Target:
        url = self.url(database)
        kw.setdefault("roles", (f"{self.prefix}*",))
        return Target(
            environment="test",
            url=url,
            display_url=make_url(url).render_as_string(hide_password=True),
            **kw,
        )

    def execute(self, *statements: str) -> None:
        conn = mysql_admin(self.name)
        try:
            with conn.cursor() as cur:
                for statement in statements:
                    cur.execute(statement.replace("{db}", self.name).replace("{p}", self.prefix))
        finally:
            conn.close()


@pytest.fixture
def mydb(mysql_server: None) -> Iterator[MyDatabase]:
    token = secrets.token_hex(4)
    db = MyDatabase(name=f"driftd_t_{token}", prefix=f"dt{token}_")
    conn = mysql_admin()
    try:
        with conn.cursor() as cur:
            cur.execute(
                f"CREATE DATABASE `{db.name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
        yield db
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{db.name}`")
            cur.execute(
                "SELECT User, Host, is_role FROM mysql.user WHERE User LIKE %s",
                (db.prefix.replace("_", r"\_") + "%",),
            )
            for user, host, is_role in cur.fetchall():
                if is_role == "Y":
                    cur.execute(f"DROP ROLE `{user}`")
                else:
                    cur.execute(f"DROP USER `{user}`@`{host}`")
        conn.close()


MYSQL_SCHEMA = (
    """CREATE TABLE customers (
        id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
        email VARCHAR(200) NOT NULL,
        name VARCHAR(50) COLLATE utf8mb4_bin DEFAULT 'anon' COMMENT 'display name',
        created TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
        UNIQUE KEY uq_email (email),
        CONSTRAINT email_len CHECK (char_length(email) > 3)
    ) ENGINE=InnoDB COMMENT='people'""",
    """CREATE TABLE orders (
        id INT NOT NULL PRIMARY KEY,
        customer_id BIGINT UNSIGNED,
        qty INT CHECK (qty > 0),
        code VARCHAR(20),
        total DECIMAL(10,2) AS (qty * 2) STORED,
        KEY ix_qty (qty DESC, code(5)),
        CONSTRAINT fk_customer FOREIGN KEY (customer_id) REFERENCES customers (id)
            ON DELETE CASCADE
    ) ENGINE=InnoDB""",
    """CREATE TRIGGER trg_orders AFTER INSERT ON orders FOR EACH ROW
        UPDATE customers SET name = name WHERE id = NEW.customer_id""",
    "CREATE VIEW big_orders AS SELECT id, qty FROM orders WHERE qty > 10",
    "CREATE USER '{p}app'@'%' IDENTIFIED BY 'App-Pass-1234'",
    "CREATE ROLE {p}reader",
    "GRANT SELECT, INSERT ON `{db}`.orders TO '{p}app'@'%'",
    "GRANT SELECT (email) ON `{db}`.customers TO '{p}app'@'%' WITH GRANT OPTION",
    "GRANT SELECT ON `{db}`.* TO {p}reader",
    "GRANT {p}reader TO '{p}app'@'%'",
)


@pytest.fixture
def shop(mydb: MyDatabase) -> MyDatabase:
    mydb.execute(*MYSQL_SCHEMA)
    return mydb


def test_mysql_snapshot_shape(shop: MyDatabase) -> None:
    db, p = shop.name, shop.prefix
    got = collect(shop.target())

    assert got.engine["dialect"] == "mariadb"
    assert "MariaDB" in got.engine["server_version"]
    assert set(got.objects) == {
        f"database:{db}",
        f"table:{db}.customers",
        f"table:{db}.orders",
        f"view:{db}.big_orders",
        f"role:{p}app@%",
        f"role:{p}reader",
    }
    assert got.objects[f"database:{db}"] == {
        "charset": "utf8mb4",
        "collation": "utf8mb4_unicode_ci",
        "comment": None,
    }

    customers = got.objects[f"table:{db}.customers"]
    assert customers["comment"] == "people"
    assert customers["options"] == {
        "engine": "InnoDB",
        "charset": "utf8mb4",
        "collation": "utf8mb4_unicode_ci",
        "create_options": [],
        "system_versioned": False,
    }
    assert customers["columns"]["id"]["autoincrement"] is True
    assert customers["columns"]["name"] == {
        "type": "varchar(50)",
        "nullable": True,
        "default": "'anon'",
        "autoincrement": False,
        "on_update": None,
        "generated": None,
        "invisible": False,
        "collation": "utf8mb4_bin",
        "comment": "display name",
    }
    assert customers["columns"]["created"]["on_update"] == "current_timestamp()"
    assert customers["constraints"] == {
        "PRIMARY": {"type": "primary_key", "definition": "PRIMARY KEY (id)"},
        "uq_email": {"type": "unique", "definition": "UNIQUE (email)"},
        "email_len": {"type": "check", "definition": "CHECK (char_length(`email`) > 3)"},
    }
    assert customers["indexes"] == {}  # the unique key is reported once, as a constraint
    assert customers["grants"] == {}
    assert customers["column_grants"] == {"email": {f"{p}app@%": ["SELECT WITH GRANT OPTION"]}}

    orders = got.objects[f"table:{db}.orders"]
    assert orders["constraints"] == {
        "PRIMARY": {"type": "primary_key", "definition": "PRIMARY KEY (id)"},
        "fk_customer": {
            "type": "foreign_key",
            "definition": f"FOREIGN KEY (customer_id) REFERENCES {db}.customers (id) "
            "ON DELETE CASCADE",
        },
        # A column-level CHECK (MariaDB names it after the column).
        "qty": {"type": "check", "definition": "CHECK (`qty` > 0)"},
    }
    assert orders["indexes"] == {
        "ix_qty": {
            "definition": f"CREATE INDEX ix_qty ON {db}.orders (qty DESC, code(5))",
            "unique": False,
        }
    }
    assert orders["columns"]["total"]["generated"] == "`qty` * 2 STORED"
    assert orders["triggers"] == {
        "trg_orders": {
            "definition": f"CREATE TRIGGER trg_orders AFTER INSERT ON {db}.orders FOR EACH ROW "
            "UPDATE customers SET name = name WHERE id = NEW.customer_id",
            "definer": orders["triggers"]["trg_orders"]["definer"],
        }
    }
    assert orders["grants"] == {f"{p}app@%": ["INSERT", "SELECT"]}
    assert orders["partitioning"] is None

    view = got.objects[f"view:{db}.big_orders"]
    assert view["definition"] == (
        f"select `{db}`.`orders`.`id` AS `id`,`{db}`.`orders`.`qty` AS `qty` "
        f"from `{db}`.`orders` where `{db}`.`orders`.`qty` > 10"
    )
    assert view["security"] == "DEFINER"
    assert view["check_option"] is None

    app = got.objects[f"role:{p}app@%"]
    assert app["login"] is True
    assert app["superuser"] is False
    assert app["account_locked"] is False
    assert app["member_of"] == {f"{p}reader": {"admin_option": False}}
    assert app["grants"] == {}  # table and column grants live on the tables
    reader = got.objects[f"role:{p}reader"]
    assert reader["login"] is False
    assert reader["grants"] == {f"{db}.*": ["SELECT"]}
    # Never a password hash (mysql_native_password hashes are "*" + 40 hex digits).
    dumped = canonical.dumps(got.objects).decode()
    assert "authentication_string" not in dumped
    assert not re.search(r"\*[0-9A-F]{40}", dumped)


def test_mysql_out_of_band_changes(shop: MyDatabase) -> None:
    """Each change shows at exactly its own path and nowhere else."""
    db, p = shop.name, shop.prefix
    orders, customers, app = f"table:{db}.orders", f"table:{db}.customers", f"role:{p}app@%"
    steps = [
        ("ALTER TABLE orders ADD COLUMN note TEXT", {(orders, "columns", "note")}),
        ("ALTER TABLE orders MODIFY code VARCHAR(40)", {(orders, "columns", "code", "type")}),
        ("ALTER TABLE orders DROP INDEX ix_qty", {(orders, "indexes", "ix_qty")}),
        (
            "CREATE TRIGGER trg_guard BEFORE UPDATE ON orders FOR EACH ROW SET NEW.qty = NEW.qty",
            {(orders, "triggers", "trg_guard")},
        ),
        (
            "CREATE OR REPLACE VIEW big_orders AS SELECT id, qty FROM orders WHERE qty > 20",
            {(f"view:{db}.big_orders", "definition")},
        ),
        (
            "ALTER TABLE customers DROP CONSTRAINT email_len",
            {(customers, "constraints", "email_len")},
        ),
        ("ALTER TABLE customers COMMENT = 'persons'", {(customers, "comment")}),
        (
            f"ALTER DATABASE `{db}` COLLATE utf8mb4_general_ci",
            {(f"database:{db}", "collation")},
        ),
        ("GRANT UPDATE ON `{db}`.orders TO '{p}app'@'%'", {(orders, "grants", f"{p}app@%")}),
        (
            # MySQL keeps the table-level grant option that came with the
            # column grant: it is still there, as "GRANT OPTION".
            "REVOKE SELECT (email) ON `{db}`.customers FROM '{p}app'@'%'",
            {(customers, "column_grants", "email"), (customers, "grants", f"{p}app@%")},
        ),
        ("GRANT CREATE ON `{db}`.* TO '{p}app'@'%'", {(app, "grants", f"{db}.*")}),
        ("ALTER USER '{p}app'@'%' ACCOUNT LOCK", {(app, "login"), (app, "account_locked")}),
        ("REVOKE {p}reader FROM '{p}app'@'%'", {(app, "member_of", f"{p}reader")}),
        ("INSERT INTO customers (email) VALUES ('someone@example.com')", set()),
    ]
    before = collect(shop.target())
    for statement, expected in steps:
        shop.execute(statement)
        after = collect(shop.target())
        assert changed_paths(before.objects, after.objects) == expected, statement
        before = after
    assert before.objects[customers]["grants"] == {f"{p}app@%": ["GRANT OPTION"]}


def test_mysql_partitions_and_shared_names(mydb: MyDatabase) -> None:
    mydb.execute(
        "CREATE TABLE a (id INT PRIMARY KEY)",
        # One name for a unique key and a foreign key: MySQL allows it.
        "CREATE TABLE b (x INT, UNIQUE KEY fk_x (x), "
        "CONSTRAINT fk_x FOREIGN KEY (x) REFERENCES a (id))",
        "CREATE TABLE events (id INT NOT NULL, day DATE NOT NULL, PRIMARY KEY (id, day)) "
        "PARTITION BY RANGE (YEAR(day)) (PARTITION p2025 VALUES LESS THAN (2026), "
        "PARTITION pmax VALUES LESS THAN MAXVALUE)",
    )
    objects = collect(mydb.target()).objects
    assert objects[f"table:{mydb.name}.b"]["constraints"] == {
        "fk_x": {
            "type": "foreign_key",
            "definition": f"FOREIGN KEY (x) REFERENCES {mydb.name}.a (id)",
        },
        "fk_x_2": {"type": "unique", "definition": "UNIQUE (x)"},
    }
    events = objects[f"table:{mydb.name}.events"]
    assert events["options"]["create_options"] == []  # "partitioned" lives below
    assert events["partitioning"] == {
        "method": "RANGE",
        "expression": "year(`day`)",
        "subpartition_method": None,
        "subpartition_expression": None,
        "partitions": {
            "p2025": {"description": "2026", "subpartitions": []},
            "pmax": {"description": "MAXVALUE", "subpartitions": []},
        },
    }


def test_mysql_deterministic(shop: MyDatabase) -> None:
    first = collect(shop.target())
    second = collect(shop.target())
    assert first == second
    assert canonical.dumps(first.objects) == canonical.dumps(second.objects)


def test_mysql_session_is_read_only_with_timeouts(shop: MyDatabase) -> None:
    target = shop.target(statement_timeout=7.5, lock_timeout=3)
    engine = create_engine(target.url)
    try:
        with engine.connect() as conn:
            mysql_read_only_session(conn, target)
            limits = conn.execute(text("SELECT @@max_statement_time, @@lock_wait_timeout")).one()
            assert (float(limits[0]), int(limits[1])) == (7.5, 3)
            with pytest.raises(sa_exc.DBAPIError) as err:
                conn.execute(text("INSERT INTO customers (email) VALUES ('x@example.com')"))
            assert err.value.orig is not None
            assert err.value.orig.args[0] == 1792  # cannot execute in a READ ONLY transaction
            conn.exec_driver_sql("ROLLBACK")
    finally:
        engine.dispose()


def test_mysql_database_scope(shop: MyDatabase) -> None:
    # The URL's database narrows collection to it.
    named = collect(shop.target())
    databases = {k for k in named.objects if k.startswith("database:")}
    assert databases == {f"database:{shop.name}"}

    # Without one, every application database is read (system schemas never).
    everything = collect(shop.target(database=None))
    assert f"database:{shop.name}" in everything.objects
    for system in ("mysql", "sys", "performance_schema", "information_schema"):
        assert f"database:{system}" not in everything.objects
        assert not any(k.startswith(f"table:{system}.") for k in everything.objects)

    # Configured schemas pick databases by glob.
    picked = collect(shop.target(database=None, schemas=(shop.name,)))
    assert {k for k in picked.objects if not k.startswith("role:")} == {
        k for k in named.objects if not k.startswith("role:")
    }


def test_mysql_unreachable_server(mysql_server: None) -> None:
    url = "mysql+pymysql://root:Sup3rSecretPw@127.0.0.1:1/app"
    display = make_url(url).render_as_string(hide_password=True)
    target = Target(environment="test", url=url, display_url=display, connect_timeout=2)
    with pytest.raises(CollectError) as err:
        collect(target)
    assert err.value.message.startswith(f"cannot connect to {display}:")
    assert err.value.hint and "running" in err.value.hint
    assert "Sup3rSecretPw" not in str(err.value)


def test_mysql_wrong_password_is_not_echoed(mydb: MyDatabase) -> None:
    mydb.execute("CREATE USER '{p}pw'@'%' IDENTIFIED BY 'Right-Pass-1234'")
    url = mydb.url(username=f"{mydb.prefix}pw", password="Wrong-Pass-5678")
    target = Target(
        environment="test", url=url, display_url=make_url(url).render_as_string(hide_password=True)
    )
    with pytest.raises(CollectError) as err:
        collect(target)
    assert "Access denied" in err.value.message
    assert "Wrong-Pass-5678" not in str(err.value)
    assert err.value.hint and "password" in err.value.hint


def test_mysql_needs_to_see_accounts(mydb: MyDatabase) -> None:
    """Without a read grant on the grant tables other accounts' grants are invisible:
    refuse, and point to the documented grant (docs/security.md)."""
    mydb.execute(
        "CREATE USER '{p}ro'@'%' IDENTIFIED BY 'Ro-Pass-1234'",
        "GRANT SELECT ON `{db}`.* TO '{p}ro'@'%'",
    )
    url = mydb.url(username=f"{mydb.prefix}ro", password="Ro-Pass-1234")
    with pytest.raises(CollectError, match=r"mysql\.user") as err:
        collect(Target(environment="test", url=url, display_url="mysql://ro@db/app"))
    assert err.value.hint and "docs/security.md" in err.value.hint


def test_mysql_missing_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pymysql", None)  # import pymysql now fails
    with pytest.raises(CollectError) as err:
        collect(Target(environment="test", url="mysql://app@db.internal/app"))
    assert err.value.hint and "driftd[mysql]" in err.value.hint


def test_unknown_dialect() -> None:
    with pytest.raises(CollectError, match="no database dialect 'nosuchdb'"):
        collect(Target(environment="test", url="nosuchdb://app@db.internal/app"))


def test_collected_is_plain_json(sqlite_db: Path, shop: MyDatabase) -> None:
    for got in (collect(sqlite_target(sqlite_db)), collect(shop.target())):
        assert isinstance(got, Collected)
        assert canonical.loads(canonical.dumps(got.objects)) == got.objects


def test_mysql_routines_events_sequences_least_privilege(mydb: MyDatabase) -> None:
    """SELECT on the database and on mysql.* (broader than the documented grant of
    docs/security.md, which tests/test_least_privilege.py proves) shows routines,
    events (information_schema.EVENTS would hide them) and sequences."""
    mydb.execute(
        "CREATE TABLE orders (id INT PRIMARY KEY, qty INT)",
        "CREATE SEQUENCE invoice_no START WITH 100 INCREMENT BY 5",
        "CREATE FUNCTION twice(a INT) RETURNS INT DETERMINISTIC SQL SECURITY INVOKER RETURN a * 2",
        "CREATE EVENT purge_all ON SCHEDULE EVERY 2 HOUR DISABLE DO DELETE FROM orders",
        "CREATE USER '{p}ro'@'%' IDENTIFIED BY 'Ro-Pass-1234'",
        "GRANT SELECT ON `{db}`.* TO '{p}ro'@'%'",
        "GRANT SELECT ON mysql.* TO '{p}ro'@'%'",
    )
    url = mydb.url(username=f"{mydb.prefix}ro", password="Ro-Pass-1234")
    roles = (f"{mydb.prefix}*",)
    objects = collect(Target(environment="test", url=url, roles=roles)).objects
    db = mydb.name
    seq = objects[f"sequence:{db}.invoice_no"]
    assert (seq["start"], seq["increment"], seq["cycle"]) == (100, 5, False)
    fn = objects[f"function:{db}.twice(a int(11))"]
    assert fn["kind"] == "function" and fn["returns"] == "int(11)"
    assert fn["security_definer"] is False and fn["definition"] == "RETURN a * 2"
    event = objects[f"event:{db}.purge_all"]
    assert event["schedule"] == "EVERY 2 HOUR" and event["status"] == "DISABLED"
    assert event["definition"] == "DELETE FROM orders"
