"""MariaDB: a driftd snapshot of a large schema next to ``mysqldump --no-data`` (issue 15).

Builds (once; ``--rebuild`` forces it) a database of ``--tables`` InnoDB tables
(8 columns, a secondary index, every tenth with a foreign key to the one before,
every fiftieth with a view, plus a few routines and events), then alternates
for ``--repeat`` rounds after ``--warmup``:

- ``mysqldump --no-data --routines --events --triggers`` of that database;
- driftd's collector on it (``driftd.collect.mysql.collect``), in-process;
- ``driftd snapshot`` as a process (start-up included).

Prints the medians and writes ``bench/results/mysql.{json,md}``. Drop the
database with ``--drop``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pymysql

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

import timing  # noqa: E402  (bench/timing.py, beside this script)

from driftd.collect import Target  # noqa: E402
from driftd.collect.mysql import collect  # noqa: E402


def _connect(a: argparse.Namespace, db: str | None = None) -> Any:
    return pymysql.connect(
        host=a.host, port=a.port, user=a.user, password="", database=db, autocommit=True
    )


def build(a: argparse.Namespace) -> None:
    with _connect(a) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s", (a.db,)
        )
        have = cur.fetchone()[0]
        if have >= a.tables and not a.rebuild:
            return
        cur.execute(f"DROP DATABASE IF EXISTS `{a.db}`")
        cur.execute(f"CREATE DATABASE `{a.db}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        cur.execute(f"USE `{a.db}`")
        t0 = time.monotonic()
        for i in range(a.tables):
            fk = (
                f", parent_id INT, CONSTRAINT t{i:05d}_fk FOREIGN KEY (parent_id)"
                f" REFERENCES t{i - 1:05d} (id)"
                if i % 10 == 9
                else ""
            )
            cur.execute(
                f"CREATE TABLE t{i:05d} (id INT PRIMARY KEY AUTO_INCREMENT,"
                " name VARCHAR(100) NOT NULL, email VARCHAR(200), amount DECIMAL(12,2)"
                " DEFAULT 0, created_at DATETIME DEFAULT CURRENT_TIMESTAMP, note TEXT,"
                f" flag TINYINT(1) NOT NULL DEFAULT 0, KEY t{i:05d}_name (name){fk})"
                " ENGINE=InnoDB COMMENT 'bench'"
            )
            if i % 50 == 0:
                cur.execute(f"CREATE VIEW v{i:05d} AS SELECT id, name FROM t{i:05d}")
        for i in range(20):
            cur.execute(f"CREATE PROCEDURE p{i:02d}(IN x INT) SQL SECURITY INVOKER SELECT x + {i}")
            cur.execute(f"CREATE EVENT e{i:02d} ON SCHEDULE EVERY 1 DAY DISABLE DO SELECT {i}")
        print(f"built {a.db}: {a.tables} tables in {time.monotonic() - t0:.1f} s", file=sys.stderr)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=3306)
    ap.add_argument("--user", default="root")
    ap.add_argument("--db", default="driftd_bench_my")
    ap.add_argument("--tables", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--drop", action="store_true")
    ap.add_argument("--out", type=Path, default=BENCH / "results")
    a = ap.parse_args()
    if a.drop:
        with _connect(a) as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{a.db}`")
        return 0
    build(a)
    url = f"mysql+pymysql://{a.user}@{a.host}:{a.port}/{a.db}"
    target = Target(environment="bench", url=url, statement_timeout=300.0)
    work = Path(tempfile.mkdtemp(prefix="driftd-mysql-bench-"))
    (work / "driftd.toml").write_text(f'[environments.bench]\nurl = "{url}"\n')
    dump = [
        "mysqldump",
        "--no-data",
        "--routines",
        "--events",
        "--triggers",
        f"--host={a.host}",
        f"--port={a.port}",
        f"--user={a.user}",
        a.db,
    ]
    cli = [sys.executable, "-m", "driftd", "--config", str(work / "driftd.toml"), "snapshot"]
    runs: dict[str, Callable[[], Any]] = {
        "mysqldump --no-data": lambda: subprocess.run(dump, check=True, stdout=subprocess.DEVNULL),
        "driftd collector (in-process)": lambda: collect(target),
        "driftd snapshot (process)": lambda: subprocess.run(
            [*cli, "bench", "-o", str(work / "snap.json")], check=True, capture_output=True
        ),
    }
    times = timing.rounds(runs, a.warmup, a.repeat)
    objects = len(collect(target).objects)
    seconds = timing.medians(times)
    base = seconds["mysqldump --no-data"]
    result = {
        "database": a.db,
        "tables": a.tables,
        "objects": objects,
        "seconds": seconds,
        "ratio_to_mysqldump": {n: m / base for n, m in seconds.items()},
        "runs": times,
    }
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "mysql.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = timing.ratio_table(
        f"# MariaDB `{a.db}`: {a.tables} tables, {objects} snapshot objects "
        f"(median of {a.repeat}, alternated)",
        seconds,
        "mysqldump --no-data",
        2,
    )
    (a.out / "mysql.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
