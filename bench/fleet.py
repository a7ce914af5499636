"""The fleet benchmark of issue 15 item 3: the real daemon over 100 … 2,000 databases.

    python bench/fleet.py --sizes 100,1000,2000:2 --periods 5

Each size ``N[:D]`` builds N databases of 200 tables (the first with
generate.py, the others cloned from it with CREATE DATABASE … TEMPLATE), writes
one environment per database on a 60 s schedule with a PostgreSQL state store
(a database of its own), accepts the baselines, starts D daemons
(``python -m driftd run``, not --once) sharing the store through leases, and
after a warm-up (every environment checked once, then one more period)
measures ``--periods`` periods:

- from the store's run records: every environment checked once per period
  (the gaps between an environment's check starts: none below half a period,
  none above one and a half), the work of each period against its budget, the
  check durations, and run errors;
- from /proc: each daemon's CPU (user + sys) per period and its RSS (peak and
  steady);
- from pg_stat_activity, matched to each daemon's sockets: the connections it
  holds, to the store and to the watched databases, sampled every 0.5 s; a
  connection to a watched database while no check of it runs is "held
  between checks" (it must never happen);
- from /metrics: the share of checks the no-change fast path answered.

In the second measured period three databases get a real change each (a new
column, a grant to PUBLIC, a new index); the next check of each must report
drift. Results go to bench/results/fleet_daemon.{json,md}; everything this
made is dropped at the end unless --keep.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate
from run import free_port, fresh_dir

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.private_pg import private_cluster
from tests.procnet import local_ports

BENCH = Path(__file__).resolve().parent
PREFIX = "driftd_fleetd_"
ROLE_PREFIX = "bfd_"
STATE_DB = "driftd_fleetd_state"
TICK = os.sysconf("SC_CLK_TCK")
SAMPLE_EVERY = 0.5
# The private cluster is configured like a production server (the test helper
# turns fsync and autovacuum off); roles on it change only when this changes them.
# fsync is off only while the databases are cloned (set_fsync), on while measured.
PRIVATE_SETTINGS = {"fsync": "off", "autovacuum": "on"}


def db_names(n: int) -> list[str]:
    return [f"{PREFIX}{i:04d}" for i in range(n)]


def env_name(db: str) -> str:
    return "f" + db.removeprefix(PREFIX)


# -- the databases ---------------------------------------------------------------------


def ensure_fleet(dsn: str, spec: generate.Spec, n: int, strategy: str) -> dict[str, Any]:
    """Databases 0..n-1: database 0 built from ``spec`` (unless it is already), the
    missing others cloned from it. Returns what it did and how long it took."""
    names = db_names(n)
    out: dict[str, Any] = {"strategy": strategy}
    with generate.connect(dsn) as admin:
        have = set(generate.existing_fleet(admin, PREFIX))
        wanted = {**asdict(spec), "db": names[0]}
        fresh = names[0] not in have or generate.db_marker(admin, names[0]) != wanted
    if fresh:
        with generate.connect(dsn) as admin:
            for db in sorted(have):
                generate.drop_database(admin, db)
        have = set()
        out["template_build_s"] = round(generate.build(dsn, generate.Spec(**wanted)), 1)
    missing = [db for db in names[1:] if db not in have]
    started = time.perf_counter()
    with generate.connect(dsn) as admin:
        for i, db in enumerate(missing):
            marker = generate.Spec(**{**wanted, "db": db}).marker()
            generate.create_database(admin, db, marker, names[0], strategy)
            if i % 50 == 0:
                print(f"\rcloned {i + 1}/{len(missing)}", end="", file=sys.stderr)
    print(file=sys.stderr)
    out["cloned"] = len(missing)
    out["clone_s"] = round(time.perf_counter() - started, 1)
    if missing:
        out["clone_s_each"] = round(out["clone_s"] / len(missing), 3)
    return out


def set_fsync(a: argparse.Namespace, on: bool) -> None:
    """The private cluster only (never a shared server's settings)."""
    if a.shared:
        return
    with generate.connect(a.dsn) as admin:
        admin.execute(f"ALTER SYSTEM SET fsync = {'on' if on else 'off'}".encode())
        admin.execute("SELECT pg_reload_conf()")


def recreate_state_db(dsn: str) -> None:
    with generate.connect(dsn) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(STATE_DB))
        )
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(STATE_DB)))


def url_of(dsn: str, db: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(dsn)
    user = info.get("user", "postgres")
    return (
        f"postgresql+psycopg://{user}@{info.get('host', '127.0.0.1')}:{info.get('port', 5432)}/{db}"
    )


# -- config and baselines --------------------------------------------------------------


def write_configs(
    work: Path, dsn: str, dbs: list[str], daemons: int, a: argparse.Namespace
) -> list[tuple[Path, int]]:
    """One config per daemon (they differ only in the HTTP port)."""
    envs = []
    for db in dbs:
        envs += [
            f"[environments.{env_name(db)}]",
            f'url = "{url_of(dsn, db)}"',
            f'roles = ["{ROLE_PREFIX}*"]',
            f'schedule = "{a.period:g}s"',
            "",
        ]
    out = []
    for i in range(daemons):
        port = free_port()
        head = [
            "[driftd]",
            'baselines_dir = "baselines"',
            f'state_url = "{url_of(dsn, STATE_DB)}"',
            f'http_listen = "127.0.0.1:{port}"',
            f"max_concurrent_checks = {a.workers}",
            f'lease_duration = "{a.lease:g}s"',
            "",
        ]
        path = work / f"driftd-{i}.toml"
        path.write_text("\n".join(head + envs))
        out.append((path, port))
    return out


def accept_baselines(work: Path, cfg: Path, dbs: list[str]) -> float:
    """Accept two environments for real (the first reports the server's roles, the others
    do not), then give every other environment a copy of the second's, renamed."""
    started = time.perf_counter()
    for db in dbs[:2]:
        subprocess.run(
            [sys.executable, "-m", "driftd", "--config", cfg, "baseline", "accept", env_name(db)],
            cwd=work,
            check=True,
            capture_output=True,
        )
    if len(dbs) > 2:
        src_env, src_db = env_name(dbs[1]), dbs[1]
        text = (work / "baselines" / f"{src_env}.json").read_text()
        for db in dbs[2:]:
            env = env_name(db)
            copy = text.replace(src_db, db).replace(
                f'"environment": "{src_env}"', f'"environment": "{env}"'
            )
            (work / "baselines" / f"{env}.json").write_text(copy)
    return round(time.perf_counter() - started, 1)


# -- sampling --------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) in MB."""
    got = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            got[line[:5]] = int(line.split()[1]) / 1024
    return got["VmRSS"], got["VmHWM"]


def server_cpu(postmaster: int) -> float:
    """CPU seconds of the server: the postmaster, the backends it reaped (cutime,
    cstime: a backend per check) and those alive now."""
    fields = Path(f"/proc/{postmaster}/stat").read_text().rsplit(")", 1)[1].split()
    total = sum(int(x) for x in fields[11:15]) / TICK
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            f = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(f[1]) == postmaster:
            total += (int(f[11]) + int(f[12])) / TICK
    return total


def machine_cpu() -> float:
    """Busy CPU seconds of the whole machine (all cores), from /proc/stat."""
    cols = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(cols[:8]) - cols[3] - cols[4]) / TICK  # minus idle and iowait


@dataclass
class Sample:
    t: float
    cpu: list[float]
    rss: list[float]
    hwm: list[float]
    store: list[int]
    targets: list[list[str]]  # per daemon: the watched databases it is connected to
    server_cpu: float | None = None  # the private cluster's processes, exited ones included
    machine_cpu: float | None = None  # every process on the machine (/proc/stat)


@dataclass
class Sampler:
    dsn: str
    pids: list[int]
    postmaster: int | None = None
    samples: list[Sample] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            while not self.stop.is_set():
                t0 = time.monotonic()
                with contextlib.suppress(OSError, ValueError, KeyError):  # a daemon just exited
                    self.samples.append(self._one(conn))
                self.stop.wait(max(0.0, SAMPLE_EVERY - (time.monotonic() - t0)))

    def _one(self, conn: psycopg.Connection[Any]) -> Sample:
        ports = [local_ports(p) for p in self.pids]
        rows = conn.execute(
            "SELECT client_port, datname FROM pg_stat_activity"
            " WHERE client_port IS NOT NULL AND pid <> pg_backend_pid()"
        ).fetchall()
        t = time.time()
        store = [sum(1 for port, db in rows if port in ps and db == STATE_DB) for ps in ports]
        targets = [[db for port, db in rows if port in ps and db != STATE_DB] for ps in ports]
        mem = [rss_mb(p) for p in self.pids]
        return Sample(
            t,
            [cpu_seconds(p) for p in self.pids],
            [m[0] for m in mem],
            [m[1] for m in mem],
            store,
            targets,
            server_cpu(self.postmaster) if self.postmaster else None,
            machine_cpu(),
        )


# -- the daemons -----------------------------------------------------------------------


def start_daemons(
    work: Path, configs: list[tuple[Path, int]], first: int = 0
) -> list[subprocess.Popen[bytes]]:
    procs = []
    for i, (cfg, _) in enumerate(configs, first):
        err = open(work / f"daemon-{i}.log", "wb")  # noqa: SIM115 (closed with the process)
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "driftd", "--config", cfg, "run"],
                cwd=work,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        )
    return procs


def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"a daemon exited with {proc.returncode} before it was ready")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    sys.exit("a daemon did not answer /healthz in time")


def counters(port: int) -> tuple[float, float]:
    """(checks finished, checks the fast path answered) from the daemon's /metrics."""
    url = f"http://127.0.0.1:{port}/metrics?name[]=driftd_checks_total&name[]=driftd_checks_reused_total"
    with urllib.request.urlopen(url, timeout=30) as r:
        text = r.read().decode()
    checks = reused = 0.0
    for line in text.splitlines():
        if line.startswith("driftd_checks_total{"):
            checks += float(line.rsplit(" ", 1)[1])
        elif line.startswith("driftd_checks_reused_total"):
            reused = float(line.rsplit(" ", 1)[1])
    return checks, reused


def stop_daemons(procs: list[subprocess.Popen[bytes]]) -> list[int | None]:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    codes = []
    for p in procs:
        try:
            codes.append(p.wait(40))
        except subprocess.TimeoutExpired:
            p.kill()
            codes.append(None)
    return codes


# -- the store's records ---------------------------------------------------------------


Run = tuple[str, str, float, float, str, int]  # env, daemon pid, start, end, status, drift


def read_runs(dsn: str) -> list[Run]:
    with psycopg.connect(dsn, dbname=STATE_DB, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT environment, daemon, started_at, finished_at, status, drift_count"
            " FROM runs ORDER BY started_at"
        ).fetchall()
    return [(e, d.split(":")[1], s.timestamp(), f.timestamp(), st, n) for e, d, s, f, st, n in rows]


def store_query(dsn: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn, dbname=STATE_DB, autocommit=True) as conn:
        return conn.execute(query.encode()).fetchall()


def wait_for(what: str, probe: Any, timeout: float) -> float:
    """Poll ``probe`` every second until it is true; the time it was."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return time.time()
        time.sleep(1)
    sys.exit(f"timed out after {timeout:.0f}s waiting for {what}")


def warm_up(dsn: str, envs: int, daemons: int, timeout: float) -> tuple[float, float]:
    """Until the leases are split evenly (each daemon holds its share), then until
    every environment was checked after that: (balanced at, all checked at)."""
    share = -(-envs // daemons)

    def balanced() -> bool:
        rows = store_query(
            dsn,
            "SELECT count(*) FROM leases WHERE owner IS NOT NULL AND expires_at > now()"
            " GROUP BY owner",
        )
        return (
            len(rows) == daemons
            and sum(r[0] for r in rows) == envs
            and all(r[0] <= share for r in rows)
        )

    at = wait_for("the leases to split evenly", balanced, timeout)
    since = datetime.fromtimestamp(at, UTC).isoformat()

    def all_checked() -> bool:
        rows = store_query(
            dsn, f"SELECT count(DISTINCT environment) FROM runs WHERE started_at > '{since}'"
        )
        return rows[0][0] >= envs

    return at, wait_for("every environment to be checked", all_checked, timeout)


def wait_steady(dsn: str, envs: int, period: float, timeout: float) -> float:
    """Until the last period's checks came on time: every environment checked in it,
    each within a quarter period of a period after its previous check. The first, full, checks
    leave a backlog (with 2,000 databases it took three periods to drain)."""
    query = f"""
        WITH g AS (
          SELECT environment, started_at, extract(epoch FROM started_at - lag(started_at)
            OVER (PARTITION BY environment ORDER BY started_at)) AS gap FROM runs)
        SELECT count(DISTINCT environment),
               count(*) FILTER (WHERE gap IS NULL OR gap < {period * 0.75} OR gap > {period * 1.25})
        FROM g WHERE started_at > now() - make_interval(secs => {period})"""

    def steady() -> bool:
        checked, off = store_query(dsn, query)[0]
        return bool(checked >= envs and off == 0)

    return wait_for("the checks to come on time", steady, timeout)


# -- changes made during the run -------------------------------------------------------


CHANGES = (
    ("add column", "ALTER TABLE {t} ADD COLUMN fleet_probe integer"),
    ("grant to PUBLIC", "GRANT SELECT ON {t} TO PUBLIC"),
    ("add index", "CREATE INDEX fleet_probe_idx ON {t} ((1))"),
)


def apply_changes(dsn: str, dbs: list[str]) -> list[dict[str, Any]]:
    # Never the first database: it is the template the others are cloned from.
    picks = [dbs[max(2, len(dbs) // 7)], dbs[len(dbs) // 2], dbs[-1]]
    out = []
    for db, (what, stmt) in zip(picks, CHANGES, strict=True):
        with psycopg.connect(dsn, dbname=db, autocommit=True) as conn:
            row = conn.execute(
                "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables"
                " WHERE starts_with(tablename, 't') ORDER BY 1 LIMIT 1"
            ).fetchone()
            assert row is not None
            conn.execute(stmt.format(t=row[0]).encode())
        out.append({"environment": env_name(db), "database": db, "change": what, "at": time.time()})
    return out


def restore(dsn: str, dbs: list[str], spec: generate.Spec, strategy: str) -> None:
    """Changed databases cloned afresh from the first, so the next size starts clean."""
    with generate.connect(dsn) as admin:
        for db in dbs:
            generate.drop_database(admin, db)
            marker = generate.Spec(**{**asdict(spec), "db": db}).marker()
            generate.create_database(admin, db, marker, db_names(1)[0], strategy)


# -- analysis --------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def r3(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def analyse(
    runs: list[Run],
    samples: list[Sample],
    t0: float,
    a: argparse.Namespace,
    envs: list[str],
    pids: list[int],
    metrics: list[tuple[tuple[float, float], tuple[float, float]]],
    changes: list[dict[str, Any]],
) -> dict[str, Any]:
    period, k = a.period, a.periods
    t_end = t0 + k * period
    measured = [r for r in runs if t0 <= r[2] < t_end]
    out: dict[str, Any] = {
        "periods": per_period(measured, samples, t0, period, k, pids, a.workers),
        "per_environment": per_environment(runs, measured, t0, t_end, period, envs, changes),
        "errors": sum(1 for r in measured if r[4] == "error"),
        "durations_s": {
            "p50": r3(pct([r[3] - r[2] for r in measured], 0.5)),
            "p95": r3(pct([r[3] - r[2] for r in measured], 0.95)),
            "max": r3(max((r[3] - r[2] for r in measured), default=None)),
        },
        "processes": daemon_figures(samples, t0, t_end, pids, period),
        "connections": connection_figures(runs, samples, t0, t_end, pids, envs),
        "fast_path": fast_path(metrics),
        "changes": change_figures(runs, changes, period),
    }
    return out


def per_period(
    measured: list[Run],
    samples: list[Sample],
    t0: float,
    period: float,
    k: int,
    pids: list[int],
    workers: int,
) -> list[dict[str, Any]]:
    rows = []
    for i in range(k):
        lo, hi = t0 + i * period, t0 + (i + 1) * period
        rs = [r for r in measured if lo <= r[2] < hi]
        busy = sum(r[3] - r[2] for r in rs)
        cpu = cpu_between(samples, lo, hi)
        rows.append(
            {
                "period": i + 1,
                "checks": len(rs),
                "checks_by_daemon": {p: sum(1 for r in rs if r[1] == str(p)) for p in pids},
                "first_start_to_last_end_s": r3(
                    max((r[3] for r in rs), default=lo) - min((r[2] for r in rs), default=lo)
                ),
                "check_seconds": round(busy, 1),
                "pool_busy_share": round(busy / (period * workers * len(pids)), 3),
                "cpu_s": {str(p): r3(c) for p, c in zip(pids, cpu, strict=True)} if cpu else None,
                **other_cpu(samples, lo, hi),
            }
        )
    return rows


def cpu_between(samples: list[Sample], lo: float, hi: float) -> list[float] | None:
    inside = [s for s in samples if lo <= s.t <= hi]
    if len(inside) < 2:
        return None
    first, last = inside[0], inside[-1]
    scale = (hi - lo) / (last.t - first.t)  # the samples cover a little less than the period
    return [(b - a_) * scale for a_, b in zip(first.cpu, last.cpu, strict=True)]


def other_cpu(samples: list[Sample], lo: float, hi: float) -> dict[str, float | None]:
    """CPU seconds in [lo, hi] of the server (private cluster) and of the whole machine."""
    inside = [s for s in samples if lo <= s.t <= hi]
    out: dict[str, float | None] = {"server_cpu_s": None, "machine_cpu_s": None}
    if len(inside) < 2:
        return out
    first, last = inside[0], inside[-1]
    scale = (hi - lo) / (last.t - first.t)
    if first.server_cpu is not None and last.server_cpu is not None:
        out["server_cpu_s"] = r3((last.server_cpu - first.server_cpu) * scale)
    if first.machine_cpu is not None and last.machine_cpu is not None:
        out["machine_cpu_s"] = r3((last.machine_cpu - first.machine_cpu) * scale)
    return out


def per_environment(
    runs: list[Run],
    measured: list[Run],
    t0: float,
    t_end: float,
    period: float,
    envs: list[str],
    changes: list[dict[str, Any]],
) -> dict[str, Any]:
    starts: dict[str, list[float]] = defaultdict(list)
    for r in runs:
        starts[r[0]].append(r[2])
    gaps: list[float] = []
    twice, skipped = set(), set()
    counts: dict[int, int] = defaultdict(int)
    for env in envs:
        seq = sorted(s for s in starts[env] if t0 - period <= s < t_end + period)
        # Gaps between consecutive starts that touch the measured window.
        for s1, s2 in itertools.pairwise(seq):
            if s2 < t0 or s1 >= t_end:
                continue
            gaps.append(s2 - s1)
            if s2 - s1 < period / 2:
                twice.add(env)
            if s2 - s1 > period * 1.5:
                skipped.add(env)
        n = sum(1 for s in seq if t0 <= s < t_end)
        counts[n] += 1
        if n == 0:
            skipped.add(env)
    return {
        "environments": len(envs),
        "checks_in_measured_window": dict(sorted(counts.items())),
        "checked_twice_in_a_period": sorted(twice),
        "skipped_a_period": sorted(skipped),
        "gap_s": {
            "min": r3(min(gaps, default=None)),
            "p01": r3(pct(gaps, 0.01)),
            "p50": r3(pct(gaps, 0.5)),
            "p99": r3(pct(gaps, 0.99)),
            "max": r3(max(gaps, default=None)),
        },
    }


def daemon_figures(
    samples: list[Sample], t0: float, t_end: float, pids: list[int], period: float
) -> list[dict[str, Any]]:
    inside = [s for s in samples if t0 <= s.t <= t_end]
    out = []
    for i, pid in enumerate(pids):
        cpu = None
        if len(inside) >= 2:
            cpu = (inside[-1].cpu[i] - inside[0].cpu[i]) / (inside[-1].t - inside[0].t)
        out.append(
            {
                "pid": pid,
                "cpu_share_of_one_core": r3(cpu),
                "cpu_s_per_period": r3(None if cpu is None else cpu * period),
                "rss_peak_mb": round(max(s.hwm[i] for s in samples), 1) if samples else None,
                "rss_steady_mb": round(statistics.median(s.rss[i] for s in inside), 1)
                if inside
                else None,
                "rss_measured_first_last_mb": [
                    round(inside[0].rss[i], 1),
                    round(inside[-1].rss[i], 1),
                ]
                if inside
                else None,
            }
        )
    return out


def connection_figures(
    runs: list[Run],
    samples: list[Sample],
    t0: float,
    t_end: float,
    pids: list[int],
    envs: list[str],
) -> dict[str, Any]:
    """Connections per daemon; a target connection with no check of that database by
    that daemon running (0.5 s slack either side) counts as held between checks."""
    by: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for env, pid, s, f, *_ in runs:
        by[(env, pid)].append((s - 0.5, f + 0.5))
    inside = [s for s in samples if t0 <= s.t <= t_end]
    held: list[dict[str, Any]] = []
    idle_samples = [0] * len(pids)
    out = {"samples": len(inside), "by_daemon": []}
    for i, pid in enumerate(pids):
        for s in inside:
            for db in s.targets[i]:
                spans = by.get((env_name(db), str(pid)), [])
                if not any(a_ <= s.t <= b for a_, b in spans):
                    held.append({"daemon": pid, "database": db, "t": round(s.t - t0, 1)})
        out["by_daemon"].append(
            {
                "pid": pid,
                "store_max": max((s.store[i] for s in inside), default=0),
                "store_median": statistics.median(s.store[i] for s in inside) if inside else None,
                "targets_max": max((len(s.targets[i]) for s in inside), default=0),
                "targets_median": statistics.median(len(s.targets[i]) for s in inside)
                if inside
                else None,
            }
        )
        idle_samples[i] = sum(1 for s in inside if not s.targets[i])
    out["held_between_checks"] = held[:20]
    out["held_between_checks_count"] = len(held)
    out["samples_with_no_target_connection"] = idle_samples
    return out


def fast_path(metrics: list[tuple[tuple[float, float], tuple[float, float]]]) -> dict[str, Any]:
    checks = sum(b[0] - a_[0] for a_, b in metrics)
    reused = sum(b[1] - a_[1] for a_, b in metrics)
    return {"checks": checks, "reused": reused, "share": r3(reused / checks if checks else None)}


def change_figures(
    runs: list[Run], changes: list[dict[str, Any]], period: float
) -> list[dict[str, Any]]:
    out = []
    for c in changes:
        after = [r for r in runs if r[0] == c["environment"] and r[2] > c["at"]]
        first = after[0] if after else None
        out.append(
            {
                "environment": c["environment"],
                "change": c["change"],
                "next_check_status": first[4] if first else None,
                "next_check_drift_items": first[5] if first else None,
                "reported_after_s": r3(first[3] - c["at"]) if first else None,
                "within_one_period": bool(
                    first and first[4] == "drift" and first[3] - c["at"] <= period + 5
                ),
                "later_checks_all_drift": all(r[4] == "drift" for r in after),
            }
        )
    return out


# -- one size --------------------------------------------------------------------------


def bench_size(a: argparse.Namespace, n: int, daemons: int, spec: generate.Spec) -> dict[str, Any]:
    print(f"== {n} databases, {daemons} daemon(s)", file=sys.stderr)
    set_fsync(a, False)
    build = ensure_fleet(a.dsn, spec, n, a.strategy)
    set_fsync(a, True)
    dbs = db_names(n)
    envs = [env_name(db) for db in dbs]
    recreate_state_db(a.dsn)
    work = fresh_dir((a.work or BENCH / "work") / f"fleetd_{n}")
    configs = write_configs(work, a.dsn, dbs, daemons, a)
    accept_s = accept_baselines(work, configs[0][0], dbs)
    procs: list[subprocess.Popen[bytes]] = []
    changes: list[dict[str, Any]] = []
    try:
        procs = start_daemons(work, configs[:1])
        wait_ready(configs[0][1], procs[0])
        started = time.time()
        if daemons > 1:  # the others join a running fleet: leases move to them
            procs += start_daemons(work, configs[1:], 1)
            for (_, port), p in zip(configs[1:], procs[1:], strict=True):
                wait_ready(port, p)
        pids = [p.pid for p in procs]
        sampler = Sampler(a.dsn, pids, a.postmaster)
        thread = threading.Thread(target=sampler.run, daemon=True)
        thread.start()
        balanced, first_round = warm_up(a.dsn, n, daemons, a.period * 20 + n)
        print(
            f"leases split after {balanced - started:.0f}s, every environment checked "
            f"after {first_round - started:.0f}s",
            file=sys.stderr,
        )
        steady = wait_steady(a.dsn, n, a.period, a.period * 20)
        t0 = time.time()
        before = [counters(port) for _, port in configs]
        for i in range(a.periods):
            if i == 1:
                time.sleep(a.period / 3)
                changes = apply_changes(a.dsn, dbs)
                time.sleep(a.period * 2 / 3)
            else:
                time.sleep(max(0.0, t0 + (i + 1) * a.period - time.time()))
            print(f"  period {i + 1}/{a.periods} done", file=sys.stderr)
        after = [counters(port) for _, port in configs]
        time.sleep(a.period / 2)  # checks started in the last period finish
        sampler.stop.set()
        thread.join()
        runs = read_runs(a.dsn)
        result = analyse(
            runs, sampler.samples, t0, a, envs, pids, list(zip(before, after, strict=True)), changes
        )
    finally:
        codes = stop_daemons(procs)
        if changes:
            restore(a.dsn, [c["database"] for c in changes], spec, a.strategy)
    return {
        "databases": n,
        "daemons": daemons,
        "setup": {
            **build,
            "baselines_s": accept_s,
            "leases_split_s": round(balanced - started, 1),
            "first_round_s": round(first_round - started, 1),
            "steady_s": round(steady - started, 1),
        },
        "exit_codes": codes,
        **result,
    }


# -- results ---------------------------------------------------------------------------


def machine(dsn: str) -> dict[str, Any]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        version = conn.execute("SHOW server_version").fetchone()
        maxconn = conn.execute("SHOW max_connections").fetchone()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=BENCH, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "driftd"], cwd=BENCH, capture_output=True, text=True
    ).stdout.strip()
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "server_version": version[0] if version else None,
        "max_connections": maxconn[0] if maxconn else None,
        "commit": commit + (" (+ uncommitted driftd changes)" if dirty else ""),
        "loadavg_end": os.getloadavg(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


DEFAULT_DSN = generate.DEFAULT_DSN


COLUMNS = (
    "databases",
    "daemons",
    "checks / period",
    "each once per period",
    "gap between checks min / p50 / max s",
    "check p50 / p95 s",
    "pool busy",
    "CPU per daemon (share of a core)",
    "RSS steady / peak MB",
    "connections max (store / targets)",
    "held between checks",
    "fast-path share",
)


def row(s: dict[str, Any]) -> str:
    pe, d = s["per_environment"], s["durations_s"]
    g = pe["gap_s"]
    ok = not pe["checked_twice_in_a_period"] and not pe["skipped_a_period"]
    procs, conns = s["processes"], s["connections"]["by_daemon"]
    cells = [
        s["databases"],
        s["daemons"],
        f"{statistics.median(x['checks'] for x in s['periods']):.0f}",
        "yes" if ok else "NO",
        f"{g['min']} / {g['p50']} / {g['max']}",
        f"{d['p50']} / {d['p95']}",
        f"{statistics.median(x['pool_busy_share'] for x in s['periods']):.2f}",
        ", ".join(f"{x['cpu_share_of_one_core']:.2f}" for x in procs),
        ", ".join(f"{x['rss_steady_mb']:.0f} / {x['rss_peak_mb']:.0f}" for x in procs),
        ", ".join(f"{x['store_max']} / {x['targets_max']}" for x in conns),
        s["connections"]["held_between_checks_count"],
        s["fast_path"]["share"],
    ]
    return "| " + " | ".join(str(c) for c in cells) + " |"


def markdown(doc: dict[str, Any]) -> str:
    p, m = doc["parameters"], doc["machine"]
    load = tuple(round(x, 2) for x in m["loadavg_end"])
    lines = [
        "# Fleet daemon benchmark (issue 15 item 3)",
        "",
        f"`python bench/fleet.py --sizes {p['sizes']} --periods {p['periods']}`: "
        f"{p['tables']} tables per database, schedule {p['period']:g} s, "
        f"`max_concurrent_checks = {p['workers']}` per daemon, PostgreSQL state store, "
        f"fast path on (`full_snapshot_every` 1 h), server: {m.get('server')}. "
        f"{m['date']}, commit {m['commit']}, load average at the end {load}.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|---:|---:|---:|:---:|---|---|---:|---|---|---|---:|---:|",
    ]
    lines += [row(s) for s in doc["sizes"]]
    lines += [
        "",
        "Per period: checks, check-seconds, CPU seconds of each daemon, of the server (its "
        "backends included) and of the whole machine (2 cores: 120 s a period; other jobs "
        "included):",
        "",
    ]
    for s in doc["sizes"]:
        cells = []
        for x in s["periods"]:
            cpu = "/".join(f"{v:.1f}" for v in (x["cpu_s"] or {}).values())
            more = "".join(
                f", {what} {x[key]:.0f} s"
                for what, key in (("server", "server_cpu_s"), ("machine", "machine_cpu_s"))
                if x.get(key) is not None
            )
            cells.append(f"{x['checks']} checks, {x['check_seconds']} s, CPU {cpu} s{more}")
        lines.append(f"- {s['databases']} databases: " + "; ".join(cells))
    lines += ["", "Changes made during the second measured period:", ""]
    for s in doc["sizes"]:
        for c in s["changes"]:
            lines.append(
                f"- {s['databases']} databases, {c['environment']} ({c['change']}): next check "
                f"{c['next_check_status']} with {c['next_check_drift_items']} item(s), "
                f"{c['reported_after_s']} s after the change"
            )
    lines += ["", "Setup per size:", ""]
    for s in doc["sizes"]:
        lines.append(f"- {s['databases']}: {json.dumps(s['setup'])}")
    if doc["problems"]:
        lines += ["", "Problems:", ""] + [f"- {x}" for x in doc["problems"]]
    return "\n".join(lines) + "\n"


def problems_of(s: dict[str, Any]) -> list[str]:
    out = []
    pe = s["per_environment"]
    tag = f"{s['databases']} databases"
    if pe["checked_twice_in_a_period"]:
        out.append(f"{tag}: checked twice in a period: {pe['checked_twice_in_a_period'][:10]}")
    if pe["skipped_a_period"]:
        out.append(f"{tag}: a period without a check: {pe['skipped_a_period'][:10]}")
    if s["connections"]["held_between_checks_count"]:
        out.append(
            f"{tag}: target connections held between checks: "
            f"{s['connections']['held_between_checks'][:5]}"
        )
    if s["errors"]:
        out.append(f"{tag}: {s['errors']} check(s) failed")
    for c in s["changes"]:
        if not c["within_one_period"]:
            out.append(f"{tag}: change in {c['environment']} not reported within a period: {c}")
    return out


def parse_sizes(text: str) -> list[tuple[int, int]]:
    out = []
    for part in text.split(","):
        n, _, d = part.partition(":")
        out.append((int(n), int(d or 1)))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--dsn", default=DEFAULT_DSN)
    ap.add_argument(
        "--sizes", default="100,1000,2000:2", help="N[:daemons],… (default 100,1000,2000:2)"
    )
    ap.add_argument("--tables", type=int, default=200)
    ap.add_argument("--period", type=float, default=60.0, help="the schedule, seconds")
    ap.add_argument("--periods", type=int, default=5, help="measured periods after the warm-up")
    ap.add_argument("--lease", type=float, default=30.0, help="lease_duration, seconds")
    ap.add_argument("--workers", type=int, default=4, help="max_concurrent_checks of each daemon")
    ap.add_argument(
        "--strategy",
        default="WAL_LOG",
        choices=("WAL_LOG", "FILE_COPY"),
        help="CREATE DATABASE … STRATEGY for the clones",
    )
    ap.add_argument("--out", default="fleet_daemon", help="bench/results/<out>.{json,md}")
    ap.add_argument(
        "--work",
        type=Path,
        help="scratch files and results here (default bench/work, bench/results)",
    )
    ap.add_argument("--keep", action="store_true", help="keep the databases and roles")
    ap.add_argument(
        "--drop", action="store_true", help="drop this benchmark's databases and roles, then exit"
    )
    ap.add_argument(
        "--shared",
        action="store_true",
        help="use --dsn; default: a private cluster of its own (see bench/README.md)",
    )
    a = ap.parse_args(argv)
    # SIGTERM unwinds like ^C: the daemons are stopped and the private cluster removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if a.drop:
        drop(a.dsn)
        return 0
    a.postmaster = None
    if a.shared:
        return run_all(a)
    with private_cluster(PRIVATE_SETTINGS) as pc:
        a.dsn = f"host=127.0.0.1 port={pc.port} user=postgres dbname=postgres"
        a.postmaster = int((pc.root / "data" / "postmaster.pid").read_text().split()[0])
        return run_all(a)


def run_all(a: argparse.Namespace) -> int:
    spec = generate.Spec(PREFIX, a.tables, 2, 50, ROLE_PREFIX, 1)
    sizes = parse_sizes(a.sizes)
    doc: dict[str, Any] = {"parameters": {**vars(a), "sizes": a.sizes}, "sizes": [], "problems": []}
    try:
        for n, daemons in sizes:
            s = bench_size(a, n, daemons, spec)
            doc["sizes"].append(s)
            doc["problems"] += problems_of(s)
            doc["machine"] = machine(a.dsn)
            doc["machine"]["server"] = "shared (--dsn)" if a.shared else "private cluster"
            write(doc, a.work or BENCH / "results", a.out)
    finally:
        if a.shared and not a.keep:  # a private cluster goes away whole
            drop(a.dsn)
    print(markdown(doc))
    return 1 if doc["problems"] else 0


def write(doc: dict[str, Any], results: Path, out: str) -> None:
    (results / f"{out}.json").write_text(json.dumps(doc, indent=1, default=str) + "\n")
    (results / f"{out}.md").write_text(markdown(doc))


def drop(dsn: str) -> None:
    with generate.connect(dsn) as admin:
        dbs = generate.existing_fleet(admin, PREFIX)
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(STATE_DB))
        )
    generate.drop_all(dsn, dbs, ROLE_PREFIX)


if __name__ == "__main__":
    sys.exit(main())
