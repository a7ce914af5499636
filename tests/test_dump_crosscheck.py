"""pg_dump / mysqldump cross-check of every golden scenario (issue 18).

A drift detector is trusted only as far as what it cannot see. For every
PostgreSQL and MariaDB scenario of tests/scenarios/, this test loads
``before.sql`` in a fresh database, dumps its schema, applies ``after.sql`` and
dumps again, then compares the two dumps with the scenario's reviewed
``expected.json``:

- the dumps differ but driftd reports nothing: a blind spot of driftd;
- driftd reports drift but the dumps are equal: something the dump tools do
  not carry (driftd sees more), or a false positive of driftd.

Either is a failure unless the scenario is in :data:`DRIFTD_CLEAN` or
:data:`DUMP_EQUAL` with the reason. An allow-listed scenario that no longer
needs it fails too, so the lists stay true.

What a "dump" is here:

- PostgreSQL: ``pg_dump --schema-only --create`` (``--create`` adds the
  database's own settings, grants and comment), plus the lines of
  ``pg_dumpall --globals-only`` that name one of the scenario's roles or
  tablespaces (``{{prefix}}*``: other tests share the server; skipped for a
  scenario whose SQL names none). ``\\restrict``
  lines hold a random key per run and are dropped.
- MariaDB: ``mysqldump --no-data --routines --events --triggers`` of the
  scenario's database (``--databases``: with its ``CREATE DATABASE``), plus the
  lines of ``--system=users`` naming a scenario account. Counters are data,
  which driftd leaves out too, so they are dropped: ``AUTO_INCREMENT=n`` of
  table options and the ``DO SETVAL(...)`` of each sequence's next value.
  ``--force`` keeps dumping past a view whose table is gone; the error is kept.

The scenarios run on three worker threads, each with its own databases
(tests/test_scenarios.py's ``Servers``): they mostly wait for the server and the
dump tools, so three beat two even on two cores (132 tests: 50 s on two busy
cores, load average 5; 65 s with two workers).
"""

from __future__ import annotations

import difflib
import json
import re
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import ADMIN_URL, _conninfo
from tests.test_scenarios import MYSQL_URL, Run, Scenario, Servers, discover

WORKERS = 3
ENGINES = ("postgresql", "mysql")

# Scenarios whose dumps differ while driftd (rightly) reports nothing, with why.
DRIFTD_CLEAN: dict[str, str] = {
    "pg_control_maintenance": (
        "CLUSTER ... USING marks the index the next CLUSTER uses (indisclustered: the dump "
        "says ALTER TABLE ... CLUSTER ON); driftd leaves that maintenance mark out on purpose "
        "(docs/objects.md): it changes no data, no access and no query result"
    ),
    "pg_role_password": (
        "the dump holds the role's SCRAM verifier; driftd never reads password hashes "
        "(pg_roles, never pg_authid), so a new password is not drift it can see"
    ),
}

# Scenarios where driftd reports drift and the dumps are equal, with why.
DUMP_EQUAL: dict[str, str] = {
    "pg_extension_update": (
        "pg_dump writes CREATE EXTENSION without a version (a restore installs the default "
        "one) and never dumps an extension's own objects, so an update leaves the dump as "
        "it was; driftd reports the extension's version"
    ),
}


def _scenarios() -> list[Scenario]:
    return [s for s in discover() if s.engine in ENGINES]


# -- dumps ------------------------------------------------------------------------------------

_RESTRICT = re.compile(r"^\\(un)?restrict ", re.MULTILINE)
_AUTO_INCREMENT = re.compile(r" AUTO_INCREMENT=\d+")
_SETVAL = re.compile(r"^DO SETVAL\(.*$", re.MULTILINE)


def _run(args: list[str], errors_ok: bool = False) -> str:
    """The tool's output; with ``errors_ok`` (mysqldump --force) its errors are part of it."""
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    if errors_ok and done.returncode != 0 and done.stdout:
        return done.stdout + "\n-- errors: " + done.stderr.strip()
    assert done.returncode == 0, f"{args[0]} failed ({done.returncode}): {done.stderr.strip()}"
    return done.stdout


def _mine(text: str, run: Run) -> list[str]:
    return [line for line in text.splitlines() if run.prefix in line]


def _names_globals(run: Run) -> bool:
    """Whether the scenario's SQL names a role, account or tablespace of its own: if not,
    no line of a globals dump can hold its prefix (and the dump is skipped, for speed)."""
    return any("{{prefix}}" in (run.scenario.read(f) or "") for f in ("before.sql", "after.sql"))


def _pg_dump(run: Run) -> str:
    info = _conninfo(ADMIN_URL)
    schema = _run(["pg_dump", "--schema-only", "--create", "-d", f"{info} dbname={run.db}"])
    lines = [line for line in schema.splitlines() if not _RESTRICT.match(line)]
    if _names_globals(run):
        lines += ["-- globals", *_mine(_run(["pg_dumpall", "--globals-only", "-d", info]), run)]
    return "\n".join(lines)


def _my_args() -> list[str]:
    u = make_url(MYSQL_URL)
    args = [
        f"--host={u.host or '127.0.0.1'}",
        f"--port={u.port or 3306}",
        f"--user={u.username or 'root'}",
    ]
    return [*args, f"--password={u.password}"] if u.password else args


def _my_dump(run: Run) -> str:
    schema = _run(
        [
            "mysqldump",
            *_my_args(),
            "--no-data",
            "--routines",
            "--events",
            "--triggers",
            "--skip-dump-date",
            "--skip-comments",
            "--force",  # a view whose table was dropped: its error is part of the dump
            "--databases",  # CREATE DATABASE, with its character set and collation
            run.db,
        ],
        errors_ok=True,
    )
    schema = _SETVAL.sub("", _AUTO_INCREMENT.sub("", schema))
    if not _names_globals(run):
        return schema
    # Every account of the server: another test's may be dropped meanwhile (--force; only
    # this scenario's lines are kept).
    users = _run(
        ["mysqldump", *_my_args(), "--system=users", "--skip-dump-date", "--force"],
        errors_ok=True,
    )
    return "\n".join([schema, "-- users", *_mine(users, run)])


def dump(run: Run) -> str:
    return _pg_dump(run) if run.scenario.engine == "postgresql" else _my_dump(run)


# -- running the scenarios ------------------------------------------------------------------


def _both_dumps(servers: Servers, scenario: Scenario, tmp: Path) -> tuple[str, str]:
    """The dump after ``before.sql`` and after ``after.sql``, in a database of its own."""
    run, _ = servers.create(scenario, tmp)
    try:
        servers.execute(run, scenario.read("before.sql") or "", tmp)
        first = dump(run)
        servers.execute(run, scenario.read("after.sql") or "", tmp)
        return first, dump(run)
    finally:
        servers.drop(run)


class Pool:
    """The selected scenarios, run on :data:`WORKERS` threads as soon as the module starts."""

    def __init__(self, scenarios: list[Scenario], tmp: Path) -> None:
        self._local = threading.local()
        self._all: list[Servers] = []
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(WORKERS, thread_name_prefix="crosscheck")
        self.results: dict[str, Future[tuple[str, str]]] = {
            s.name: self._executor.submit(self._one, s, tmp) for s in scenarios
        }

    def _servers(self) -> Servers:
        servers: Servers | None = getattr(self._local, "servers", None)
        if servers is None:
            servers = self._local.servers = Servers()
            with self._lock:
                self._all.append(servers)
        return servers

    def _one(self, scenario: Scenario, tmp: Path) -> tuple[str, str]:
        return _both_dumps(self._servers(), scenario, tmp)

    def close(self) -> None:
        for f in self.results.values():
            f.cancel()
        self._executor.shutdown(wait=True)
        for servers in self._all:
            servers.close()


@pytest.fixture(scope="module")
def pool(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pool]:
    selected = {
        item.callspec.params["scenario"].name
        for item in request.session.items
        if item.module is request.module and hasattr(item, "callspec")
    }
    p = Pool([s for s in _scenarios() if s.name in selected], tmp_path_factory.mktemp("dumps"))
    try:
        yield p
    finally:
        p.close()


def _params() -> list[Any]:
    return [pytest.param(s, id=s.name, marks=pytest.mark.server) for s in _scenarios()]


# -- the test -------------------------------------------------------------------------------


def _diff(before: str, after: str) -> str:
    lines = difflib.unified_diff(before.splitlines(), after.splitlines(), "before", "after", n=0)
    return "\n".join(list(lines)[:40])


@pytest.mark.parametrize("scenario", _params())
def test_dumps_agree_with_driftd(scenario: Scenario, pool: Pool) -> None:
    before, after = pool.results[scenario.name].result()
    dumps_differ = before != after
    drift = bool(json.loads((scenario.path / "expected.json").read_text()))
    if scenario.xfail:
        drift = False  # driftd does not give expected.json yet: it sees nothing
    name = scenario.name
    if dumps_differ and not drift:
        assert name in DRIFTD_CLEAN, (
            f"{name}: the dump shows a change driftd does not report (a blind spot: "
            f"collect it, or allow-list it in DRIFTD_CLEAN with why):\n{_diff(before, after)}"
        )
    elif drift and not dumps_differ:
        assert name in DUMP_EQUAL, (
            f"{name}: driftd reports drift but the dumps are equal (something the dump "
            "tools do not carry, or a false positive: allow-list it in DUMP_EQUAL with why)"
        )
    else:
        stale = [d for d in (DRIFTD_CLEAN, DUMP_EQUAL) if name in d]
        assert not stale, f"{name}: dumps and driftd agree now; remove it from the allow-list"


def test_allow_lists_name_scenarios() -> None:
    names = {s.name for s in _scenarios()}
    for listed in (DRIFTD_CLEAN, DUMP_EQUAL):
        unknown = set(listed) - names
        assert not unknown, f"allow-listed scenarios that do not exist: {unknown}"
        assert all(reason.strip() for reason in listed.values()), "give each entry its reason"
