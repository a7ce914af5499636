"""`driftd check` as a process: the no-change fast path kept on disk (issue 15).

A reused check prints exactly what the full check printed (text and JSON, exit
code), for a clean and a drifted environment; a catalog change, a baseline
change (also a same-size rewrite with its mtime put back), a config or rules
change, age and ``--full`` each force a full check. Whether a run was full is
read from the cache file: a full check rewrites it, a reused one leaves it.

On a private cluster: the fingerprint reads cluster-wide catalogs (roles) that
concurrent tests on the shared server change all the time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from driftd.collect import Target
from driftd.config import url as urls
from driftd.config.load import parse
from driftd.drift import SEVERITIES, DriftItem, EnvironmentReport, Report
from tests.conftest import examples
from tests.private_pg import PrivateCluster, private_cluster

URLS = [
    "postgresql+psycopg://app@db.internal:5432/app",
    "postgresql://u%40x:p%2Fw%3Ad@[::1]:6432/my%20db?sslmode=require&options=-c%20a%3Db",
    "postgresql+psycopg://app@/app?host=/var/run/postgresql&host=/tmp",
    "postgres://h/db",
    "postgresql+psycopg://user:@host/db",
    "postgresql+psycopg://",
    "postgresql+psycopg:///dbname?application_name=x+y",
]


@pytest.mark.parametrize("text", URLS)
def test_the_light_url_parser_reads_urls_as_sqlalchemy_does(text: str) -> None:
    from sqlalchemy.engine import make_url

    ours, theirs = urls.parse(text), make_url(text)
    assert ours is not None
    for part in ("drivername", "username", "password", "host", "port", "database"):
        assert getattr(ours, part) == getattr(theirs, part), part
    assert ours.query == dict(theirs.query)
    for hide in (True, False):
        assert ours.render(hide) == theirs.render_as_string(hide)
    secret = "p@ss:w/rd %+?&="
    assert ours.set(secret).render(False) == theirs.set(password=secret).render_as_string(False)


def test_the_target_url_is_the_environments_database_url(tmp_path: Path) -> None:
    config = tmp_path / "driftd.toml"
    config.write_text(
        '[environments.a]\nurl = "postgresql+psycopg://app@db:5432/app?sslmode=require"\n'
        'password_env = "DRIFTD_T_PW"\n'
        '[environments.b]\nurl_env = "DRIFTD_T_URL"\n'
    )
    os.environ["DRIFTD_T_PW"], os.environ["DRIFTD_T_URL"] = "s3:cr@t/", "postgres://x@y/z"
    try:
        for name in ("a", "b"):
            env = parse(config.read_text(), config).resolve(name)
            target = Target.of(env)
            assert (target.url, target.display_url) == (env.database_url(), env.display_url())
    finally:
        del os.environ["DRIFTD_T_PW"], os.environ["DRIFTD_T_URL"]


# -- end to end, on a private cluster ---------------------------------------------------


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivateCluster]:
    with private_cluster() as c:
        yield c


class Project:
    def __init__(self, root: Path, url: str) -> None:
        self.root, self.url = root, url
        self.config = root / "driftd.toml"
        self.cache = root / "cache"
        self.write()

    def write(self, extra: str = "", driftd: str = 'cache_dir = "cache"') -> None:
        self.config.write_text(
            textwrap.dedent(
                f"""
                [driftd]
                {driftd}

                [environments.e]
                url = "{self.url}"
                roles = ["nobody_*"]
                full_snapshot_every = "1h"
                """
            )
            + extra
        )

    def run(self, *args: str) -> tuple[int, str, str]:
        from driftd.cli.main import cli

        res = CliRunner().invoke(cli, ["--config", str(self.config), *args])
        return res.exit_code, res.stdout, res.stderr

    def record(self) -> dict[str, Any]:
        (path,) = self.cache.glob("e.*.json")
        data: dict[str, Any] = json.loads(path.read_text())
        return data

    def check(self, *args: str) -> tuple[tuple[int, str], bool]:
        """(exit code, output without generated_at), and whether it was a full check."""
        before = self.record()["at"] if self.cache.is_dir() else None
        code, out, err = self.run("check", *args)
        assert code in (0, 1), err
        full = before is None or self.record()["at"] != before
        lines = [line for line in out.splitlines() if '"generated_at"' not in line]
        return (code, "\n".join(lines)), full


@pytest.fixture
def project(cluster: PrivateCluster, tmp_path: Path) -> Iterator[Project]:
    with cluster.connect() as admin:
        admin.execute("CREATE DATABASE fastpath")
    with cluster.connect("fastpath") as conn:
        conn.execute("CREATE TABLE t (aa int PRIMARY KEY, note text)")
    proj = Project(tmp_path, cluster.url("fastpath"))
    code, _, err = proj.run("baseline", "accept", "e")
    assert code == 0, err
    try:
        yield proj
    finally:
        with cluster.connect() as admin:
            admin.execute("DROP DATABASE fastpath WITH (FORCE)")


def _alter(cluster: PrivateCluster, sql: str) -> None:
    with cluster.connect("fastpath") as conn:
        conn.execute(sql)  # type: ignore[arg-type]


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_a_reused_check_prints_what_the_full_check_printed(
    cluster: PrivateCluster, project: Project, fmt: str
) -> None:
    args = ("--format", fmt)
    first, full = project.check(*args)
    assert full and first[0] == 0
    again, full = project.check(*args)
    assert not full and again == first
    assert project.check("--full", *args) == (first, True)
    # Drifted: the drift items come back from the file, before and after included.
    _alter(cluster, "ALTER TABLE t ADD COLUMN extra numeric(10, 2) DEFAULT 1.5")
    drifted, full = project.check(*args)
    assert full and drifted[0] == 1 and "extra" in drifted[1]
    assert project.check(*args) == (drifted, False)
    assert project.check("--full", *args) == (drifted, True)
    assert os.stat(project.cache).st_mode & 0o777 == 0o700
    (path,) = project.cache.glob("e.*.json")
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_every_change_forces_a_full_check(cluster: PrivateCluster, project: Project) -> None:
    assert project.check()[1]
    assert not project.check()[1]
    # The catalog.
    _alter(cluster, "COMMENT ON TABLE t IS 'x'")
    out, full = project.check("--format", "json")
    assert full and "comment" in out[1]
    project.run("baseline", "accept", "e", "--yes", "--reason", "test")
    assert project.check()[1]
    assert not project.check()[1]
    # The baseline, rewritten in place with the same size and its mtime put back.
    baseline = project.root / "baselines" / "e.json"
    stat = baseline.stat()
    text = baseline.read_text()
    assert text.count('"aa"') == 1
    with baseline.open("r+") as fh:  # same inode, same size
        fh.write(text.replace('"aa"', '"ab"'))
    os.utime(baseline, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert baseline.stat().st_size == stat.st_size
    out, full = project.check("--format", "json")
    assert full and out[0] == 1 and "columns" in out[1]
    assert project.check("--format", "json") == (out, False)
    baseline.write_text(text)
    out, full = project.check()
    assert full and out[0] == 0
    # The config: settings, rules.
    project.write('ignore = ["table:public.nothing_*"]\n')
    assert project.check()[1]
    assert not project.check()[1]
    rules = '[rules.severity]\ncomment-changed = "off"\n'
    project.write('ignore = ["table:public.nothing_*"]\n' + rules)
    assert project.check()[1]
    # Age: older than full_snapshot_every.
    assert not project.check()[1]
    (path,) = project.cache.glob("e.*.json")
    record = project.record()
    record["at"] -= 3600
    path.write_text(json.dumps(record))
    assert project.check()[1]
    assert not project.check()[1]


def test_an_unwritable_cache_dir_costs_one_warning(
    cluster: PrivateCluster, project: Project
) -> None:
    (project.root / "afile").write_text("")
    project.write(
        "[environments.f]\n"
        f'url = "{project.url}"\nroles = ["nobody_*"]\nbaseline = "baselines/e.json"\n',
        driftd='cache_dir = "afile/cache"',
    )
    command = [sys.executable, "-m", "driftd", "--config", str(project.config), "check"]
    for _ in range(2):  # a process of its own: the warning as logged to stderr
        done = subprocess.run(
            [*command, "--format", "json"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        code, out, err = done.returncode, done.stdout, done.stderr
        assert code == 0, err
        assert [e["status"] for e in json.loads(out)["environments"]] == ["clean", "clean"]
        assert err.count("cannot write the check cache") == 1, err
        assert "cache_dir" in err


def test_the_default_cache_dir_is_beside_the_sqlite_state_store(tmp_path: Path) -> None:
    from driftd.check_cache import cache_dir

    config = tmp_path / "driftd.toml"
    config.write_text('[driftd]\nstate_url = "sqlite:///state/driftd.db"\n')
    assert cache_dir(parse(config.read_text(), config)) == tmp_path / "state" / "driftd-cache"
    config.write_text('[driftd]\nstate_url = "postgresql+psycopg://d@h/d"\n')
    os.environ["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    try:
        assert cache_dir(parse(config.read_text(), config)) == tmp_path / "xdg" / "driftd"
    finally:
        del os.environ["XDG_CACHE_HOME"]


# What a reused check has no use for: the differ, SQLAlchemy, rich (its text goes to a
# pipe here), the snapshot reader, and the modules only drift items need.
NOT_REUSED = ("sqlalchemy", "deepdiff", "rich", "pglast", "sqlglot", "alembic", "difflib")
NOT_REUSED += ("driftd.snapshot", "driftd.kinds", "driftd.diff.renames")


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_the_no_change_process_imports_no_sqlalchemy_nor_differ(
    cluster: PrivateCluster, project: Project, fmt: str
) -> None:
    assert project.check()[1]
    probe = textwrap.dedent(
        f"""
        import json, sys
        from driftd.cli.main import cli
        try:
            cli(["--config", {str(project.config)!r}, "check", "--format", {fmt!r}])
        except SystemExit as exc:
            code = exc.code
        loaded = sorted(m for m in {NOT_REUSED!r} if m in sys.modules)
        print(json.dumps([code, loaded]), file=sys.stderr)
        """
    )
    before = project.record()["at"]
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert project.record()["at"] == before, done.stderr  # reused
    assert json.loads(done.stderr.splitlines()[-1]) == [0, []]


def test_a_role_nothing_here_refers_to_leaves_the_fingerprint(cluster: PrivateCluster) -> None:
    """Another application creating and dropping its roles on a shared server costs no
    full snapshot; a role that something here depends on, or that a watched role is a
    member of, counts by its name (a rename shows in owners, grants and member_of)."""
    from driftd.collect.postgres.fingerprint import fingerprint

    target = Target(environment="t", url=cluster.url("fp_roles"), roles=("fpw_*",))
    with cluster.connect() as admin:
        admin.execute("CREATE DATABASE fp_roles")
        admin.execute("CREATE ROLE fpw_app; CREATE ROLE other_a; CREATE ROLE other_b")
    try:
        with cluster.connect("fp_roles") as conn:
            conn.execute("CREATE TABLE t (id int)")
        before = fingerprint(target)
        with cluster.connect() as admin:
            admin.execute("CREATE ROLE other_new")
            admin.execute("ALTER ROLE other_a PASSWORD 'x'")
        assert fingerprint(target) == before
        for grant, rename in (
            ("GRANT SELECT ON t TO other_a", "ALTER ROLE other_a RENAME TO other_a2"),
            ("GRANT other_b TO fpw_app", "ALTER ROLE other_b RENAME TO other_b2"),
        ):
            with cluster.connect("fp_roles") as conn:
                conn.execute(grant)  # type: ignore[arg-type]
            granted = fingerprint(target)
            assert granted != before
            with cluster.connect() as admin:
                admin.execute(rename)  # type: ignore[arg-type]
            before = fingerprint(target)
            assert before != granted
    finally:
        with cluster.connect() as admin:
            admin.execute("DROP DATABASE fp_roles WITH (FORCE)")
            admin.execute("DROP ROLE IF EXISTS fpw_app, other_a2, other_b2, other_new")


# -- the text report where rich shows no colours, written without rich ------------------

# Any character JSON carries, and often those a terminal or rich treat apart: controls
# (rich drops BEL, BS, VT, FF, CR), tabs, newlines, ESC, a bidi override, wide ones.
_TEXT = st.text(
    st.characters(codec="utf-8") | st.sampled_from("\x07\x08\t\n\v\f\r\x1b\u202e\u4e2d -"),
    max_size=30,
)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | _TEXT,  # as JSON holds
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=6,
)
_PATHS = st.one_of(
    st.lists(_TEXT | st.integers(), max_size=3),
    st.just(["definition"]),  # a function's or view's body: a unified diff
    st.tuples(st.sampled_from(["triggers", "policies"]), _TEXT).map(list),
    st.just(["name"]),  # a rename
)
_ATTRIBUTION = st.fixed_dictionaries(
    {},
    optional={
        k: _TEXT for k in ("actor", "db_user", "at", "source", "session", "reason", "statement")
    }
    | {"confidence": st.floats(0, 1), "review": _JSON},
)
_ITEMS = st.builds(
    DriftItem,
    object=st.tuples(st.sampled_from(["table", "role", "function", "view"]), _TEXT).map(":".join),
    change=st.sampled_from(["added", "removed", "modified"]),
    path=_PATHS,
    before=_JSON | st.text(max_size=80),
    after=_JSON | st.text(max_size=80),
    id=st.text("0123456789abcdef", min_size=16, max_size=16),
    severity=st.sampled_from(SEVERITIES),
    rules=st.lists(_TEXT, max_size=2),
    attribution=st.lists(_ATTRIBUTION, max_size=2),
)
_ENVIRONMENTS = st.builds(
    EnvironmentReport,
    name=_TEXT,
    status=st.sampled_from(["clean", "drift", "error"]),
    error=st.none() | _TEXT,
    drift=st.lists(_ITEMS, max_size=3),
    ignored=st.integers(0, 3),
    reference=st.none() | _TEXT,  # a migrations revision, as the baseline file holds it
)


@settings(max_examples=examples(150), deadline=None)
@given(
    environments=st.lists(_ENVIRONMENTS, max_size=3),
    comparison=st.booleans(),
    columns=st.integers(1, 130),
)
def test_text_to_a_pipe_is_what_rich_writes_there(
    environments: list[EnvironmentReport], comparison: bool, columns: int
) -> None:
    """A text report to a pipe or a file is written without rich (a tenth of a
    no-change check's start-up), byte for byte what rich writes there."""
    import contextlib
    import io

    from driftd.report import console, render_text

    report = Report(environments, comparison=comparison)
    saved = {k: os.environ.pop(k, None) for k in ("FORCE_COLOR", "TTY_COMPATIBLE", "COLUMNS")}
    os.environ["COLUMNS"] = str(columns)
    try:
        by_rich = io.StringIO()
        render_text(report, console(by_rich))
        plain = io.StringIO()
        with contextlib.redirect_stdout(plain):
            render_text(report)
    finally:
        for key, value in saved.items():
            os.environ.pop(key, None)
            if value is not None:
                os.environ[key] = value
    assert plain.getvalue() == by_rich.getvalue()


def test_the_baseline_is_read_from_the_cache_while_its_file_is_unchanged(
    cluster: PrivateCluster, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`driftd check` keeps the parsed baseline in cache_dir (baseline.*.bin) and reads
    it back while the file's stamp holds: the same result, without parsing the JSON."""
    from driftd import check_cache, snapshot

    monkeypatch.setattr(check_cache, "RACY_NS", 0)  # the baseline was written just now
    parsed: list[Path] = []
    real = snapshot.read

    def read(path: Path, what: str = "snapshot", compact: bool = False) -> Any:
        if what == "baseline":
            parsed.append(path)
        return real(path, what, compact)

    monkeypatch.setattr(snapshot, "read", read)
    _alter(cluster, "ALTER TABLE t ADD COLUMN extra int")
    first, _ = project.check("--full", "--format", "json")
    assert first[0] == 1 and len(parsed) == 1
    (kept,) = project.cache.glob("baseline.*.bin")
    assert os.stat(kept).st_mode & 0o777 == 0o600
    assert project.check("--full", "--format", "json") == (first, True)
    assert len(parsed) == 1  # from the cache
    # A damaged cache file is read past: the JSON is parsed again, and kept anew.
    kept.write_bytes(kept.read_bytes()[:-5])
    assert project.check("--full", "--format", "json") == (first, True)
    assert len(parsed) == 2
    assert project.check("--full", "--format", "json") == (first, True)
    assert len(parsed) == 2
    # A new baseline file (accepted): parsed, and the check follows it.
    code, _, err = project.run("baseline", "accept", "e", "--yes", "--reason", "test")
    assert code == 0, err
    parsed.clear()  # (accept reads the old baseline itself)
    out, _ = project.check("--full", "--format", "json")
    assert out[0] == 0 and len(parsed) == 1
    monkeypatch.setattr(check_cache, "RACY_NS", 10**12)  # a file changed just now...
    baseline = project.root / "baselines" / "e.json"
    baseline.write_bytes(baseline.read_bytes())
    project.check("--full")
    project.check("--full")
    assert len(parsed) == 3  # ...is not kept: its stamp could outlive a rewrite
