"""One command for the driftd performance benchmarks (issue 6); see bench/README.md.

    python bench/run.py                           # main: driftd_bench, 10k tables
    python bench/run.py --scaling 1000,5000,10000 # + bench/scaling.png
    python bench/run.py --fleet 200               # driftd run --once over 200 databases
    python bench/run.py --smoke                   # CI: small, asserts results, not timings
    python bench/run.py --all                     # main + scaling + fleet, as in README.md

Every measured command runs as a child of bench/rss.py, which reports its wall
time and the peak RSS of exactly that child (``wait4``). Rounds alternate the
commands (the order rotates each round); the report gives medians. The built
database is reused when its generator marker matches.

Check with N changes: ``<db>_mut`` is a template copy of the database. Its
baseline is accepted, then ``mutate.py`` changes it; ``bench``'s baseline is
accepted after that, because role changes are cluster-wide and would
otherwise show up there too. Afterwards the role changes are undone and the
copy is dropped, so the source database is never changed.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import generate
from generate import Spec
from sqlalchemy.engine import make_url

BENCH = Path(__file__).resolve().parent
PY = sys.executable
PASSWORD_ENV = "DRIFTD_BENCH_PASSWORD"
# Steps that print JSON with total_s, their in-process time.
INNER = {"floor", "floor_builtin", "load_diff", "load_diff_ref"}


# -- measuring ---------------------------------------------------------------------


@dataclass
class Measured:
    wall_s: float
    maxrss_mb: float
    rc: int
    # With sampling: the child's RSS over its run, [seconds, MB].
    rss_samples: list[list[float]] | None = None


def measure(
    cmd: Sequence[str | Path], out: Path, err: Path, sample: float | None = None
) -> Measured:
    """Run ``cmd`` under bench/rss.py: its wall time and the peak RSS of exactly that child."""
    result = out.with_suffix(".rss.json")
    sampling: list[str | Path] = ["--sample", str(sample)] if sample else []
    with out.open("wb") as fo, err.open("wb") as fe:
        subprocess.run([PY, "-S", BENCH / "rss.py", *sampling, result, *cmd], stdout=fo, stderr=fe)
    r = json.loads(result.read_text())
    samples = r.get("rss_samples")
    return Measured(
        r["wall_s"],
        round(r["maxrss_kib"] / 1024, 1),
        r["rc"],
        [[t, round(kib / 1024, 1)] for t, kib in samples] if samples is not None else None,
    )


def rss_profile(samples: list[list[float]] | None) -> dict[str, float] | None:
    """RSS (MB) at 10 %, 25 %, 50 %, 75 % and 100 % of a sampled run: flat or growing?"""
    if not samples:
        return None
    end = samples[-1][0]
    out = {}
    for pct in (10, 25, 50, 75, 100):
        at = [mb for t, mb in samples if t <= end * pct / 100]
        out[f"{pct}%"] = at[-1] if at else samples[0][1]
    return out


def tail(path: Path, lines: int = 3) -> str:
    text = path.read_text(errors="replace").strip().splitlines() if path.exists() else []
    return " | ".join(text[-lines:])


@dataclass
class Step:
    name: str
    label: str
    cmd: list[str | Path]
    ok_rc: tuple[int, ...] = (0,)
    sample: float | None = None  # sample the RSS every this many seconds
    runs: list[Measured] = field(default_factory=list)
    inner_s: list[float] = field(default_factory=list)
    error: str | None = None
    after_run: Callable[[Measured, bool], None] | None = None  # (run, recorded?)

    def out(self, work: Path) -> Path:
        return work / f"{self.name}.out"

    def run(self, work: Path, record: bool) -> None:
        if self.error:
            return
        err = work / f"{self.name}.err"
        m = measure(self.cmd, self.out(work), err, self.sample)
        if m.rc not in self.ok_rc:
            self.error = f"exit {m.rc} (expected {self.ok_rc}): {tail(err)}"
        else:
            if record:
                self.runs.append(m)
                if self.name in INNER:
                    self.inner_s.append(json.loads(self.out(work).read_text())["total_s"])
            if self.after_run:
                self.after_run(m, record)

    def summary(self) -> dict[str, Any]:
        walls = [r.wall_s for r in self.runs]
        rss = [r.maxrss_mb for r in self.runs]
        return {
            "label": self.label,
            "error": self.error,
            "median_s": statistics.median(walls) if walls else None,
            "min_s": min(walls, default=None),
            "max_s": max(walls, default=None),
            "median_rss_mb": statistics.median(rss) if rss else None,
            "max_rss_mb": max(rss, default=None),
            "inner_median_s": statistics.median(self.inner_s) if self.inner_s else None,
            "rss_profile_mb": [rss_profile(r.rss_samples) for r in self.runs if r.rss_samples],
            "runs": [asdict(r) for r in self.runs],
        }


def alternate(
    steps: list[Step], work: Path, warmup: int, repeat: int, after_first: Callable[[], None]
) -> None:
    """Warm-up rounds, then measured rounds; each round rotates the order."""
    for rnd in range(warmup + repeat):
        k = rnd % len(steps)
        for step in steps[k:] + steps[:k]:
            step.run(work, record=rnd >= warmup)
        if rnd == 0:
            after_first()
        print(f"  round {rnd + 1}/{warmup + repeat} done", file=sys.stderr)


# -- plumbing ----------------------------------------------------------------------


def libpq_url(dsn: str, db: str) -> str:
    return make_url(dsn).set(drivername="postgresql", database=db).render_as_string(False)


def driftd(cfg: Path, *args: str | Path) -> list[str | Path]:
    return [PY, "-m", "driftd", "--config", cfg, *args]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(work: Path, dsn: str, envs: dict[str, str], role_prefix: str) -> Path:
    """A driftd config for ``envs`` (name -> database) under ``work``."""
    url = make_url(dsn)
    lines = [
        "[driftd]",
        'baselines_dir = "baselines"',
        'state_url = "sqlite:///state.db"',
        f'http_listen = "127.0.0.1:{free_port()}"',
        "",
    ]
    for name, db in envs.items():
        env_url = url.set(drivername="postgresql+psycopg", database=db, password=None)
        lines += [
            f"[environments.{name}]",
            f'url = "{env_url.render_as_string(False)}"',
            f'roles = ["{role_prefix}*"]',
            "cluster_objects = true",  # every environment reads everything: it is measured
            'statement_timeout = "10m"',  # a benchmark measures time; it must not time out
        ]
        if url.password:
            lines.append(f'password_env = "{PASSWORD_ENV}"')
        lines.append("")
    cfg = work / "driftd.toml"
    cfg.write_text("\n".join(lines))
    if url.password:
        os.environ[PASSWORD_ENV] = url.password
    return cfg


def fresh_dir(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def setup(
    cmd: list[str | Path], work: Path, name: str, problems: list[str], ok_rc: tuple[int, ...] = (0,)
) -> float | None:
    """A command outside the measured rounds; its time is reported for information."""
    m = measure(cmd, work / f"{name}.out", work / f"{name}.err")
    if m.rc not in ok_rc:
        problems.append(f"{name}: exit {m.rc}: {tail(work / f'{name}.err')}")
        return None
    return m.wall_s


def ensure_built(dsn: str, spec: Spec, rebuild: bool) -> float | None:
    """Build ``spec.db`` unless it exists with the same generator marker; seconds or None."""
    with generate.connect(dsn) as admin:
        if not rebuild and generate.db_marker(admin, spec.db) == asdict(spec):
            return None
    print(f"building {spec.db} ({spec.tables} tables)", file=sys.stderr)
    return round(generate.build(dsn, spec), 1)


def machine(dsn: str) -> dict[str, Any]:
    info: dict[str, Any] = {"cpus": os.cpu_count(), "python": platform.python_version()}
    meminfo = Path("/proc/meminfo").read_text().split()
    info["memory_gib"] = round(int(meminfo[meminfo.index("MemTotal:") + 1]) / 2**20, 1)
    info["loadavg_1_5_15"] = [round(x, 2) for x in os.getloadavg()]  # others on the machine?
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            info["cpu"] = line.split(":", 1)[1].strip()
            break
    with generate.connect(dsn) as conn:
        row = conn.execute("SHOW server_version").fetchone()
        info["postgresql"] = row[0] if row else None
    info["pg_dump"] = subprocess.run(
        ["pg_dump", "--version"], capture_output=True, text=True
    ).stdout.strip()
    info["driftd"] = subprocess.run(
        [PY, "-c", "import driftd; print(driftd.__version__)"], capture_output=True, text=True
    ).stdout.strip()
    git = subprocess.run(
        ["git", "-C", str(BENCH), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    info["commit"] = git.stdout.strip() or None
    dirty = subprocess.run(
        ["git", "-C", str(BENCH.parent), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
    )
    if info["commit"] and dirty.stdout.strip():
        info["commit"] += " with uncommitted changes"
    return info


def stable(doc: dict[str, Any]) -> dict[str, Any]:
    engine = {k: v for k, v in doc.get("engine", {}).items() if k != "server_version"}
    return {**{k: v for k, v in doc.items() if k != "taken_at"}, "engine": engine}


def report_objects(path: Path, env: str) -> tuple[str | None, list[str]]:
    """(status, drifted object keys) of ``env`` in a driftd.report/1 file."""
    doc = json.loads(path.read_text())
    for e in doc["environments"]:
        if e["name"] == env:
            return e["status"], sorted({d["object"] for d in e["drift"]})
    return None, []


def compare_drift(found: list[str], changes: dict[str, Any]) -> dict[str, Any]:
    expected, implied = set(changes["expected"]), set(changes["implied"])
    return {
        "expected": len(expected),
        "found": len(found),
        "missing": sorted(expected - set(found)),
        "unexpected": sorted(set(found) - expected - implied),
    }


# -- the main benchmark -----------------------------------------------------------------


def bench_database(a: argparse.Namespace, spec: Spec) -> dict[str, Any]:
    work = fresh_dir(a.work / spec.db)
    problems: list[str] = []
    build_s = ensure_built(a.dsn, spec, a.rebuild)
    counts = generate.catalog_counts(a.dsn, spec.db, spec.role_prefix)
    mut = spec.db + "_mut"
    with generate.connect(a.dsn) as admin:
        generate.drop_database(admin, mut)
        started = time.perf_counter()
        generate.create_database(admin, mut, Spec(**{**asdict(spec), "db": mut}).marker(), spec.db)
        copy_s = round(time.perf_counter() - started, 2)
    cfg = write_config(work, a.dsn, {"bench": spec.db, "bench_mut": mut}, spec.role_prefix)
    changes_file = work / "changes.json"
    setup_s: dict[str, float | None] = {"build": build_s, "copy_database": copy_s}
    try:
        accept = "baseline", "accept", "--reason", "benchmark"
        setup_s["baseline_accept_mut"] = setup(
            driftd(cfg, *accept, "bench_mut"), work, "baseline_mut", problems
        )
        mutate_cmd: list[str | Path] = [PY, BENCH / "mutate.py", "--dsn", a.dsn, "--db", mut]
        mutate_cmd += ["--role-prefix", spec.role_prefix, "--count", str(a.changes)]
        mutate_cmd += ["--seed", str(spec.seed), "--out", changes_file]
        setup_s["mutate"] = setup(mutate_cmd, work, "mutate", problems)
        setup_s["baseline_accept"] = setup(
            driftd(cfg, *accept, "bench"), work, "baseline", problems
        )
        baseline = work / "baselines" / "bench.json"
        snapshot = work / "snapshot.json"
        db_url = libpq_url(a.dsn, spec.db)
        dump: list[str | Path] = [
            "pg_dump",
            "--schema-only",
            "-d",
            db_url,
            "-f",
            work / "pg_dump.sql",
        ]
        loaddiff: list[str | Path] = [PY, BENCH / "loaddiff.py", baseline, snapshot]
        floor: list[str | Path] = [PY, BENCH / "floor.py", "--dsn", db_url]
        # --full: these rows are the full check (bench/cli.py measures the reused one).
        check = "check", "--format", "json", "--full"
        steps = [
            Step("pg_dump", "pg_dump --schema-only", dump),
            Step("snapshot", "driftd snapshot", driftd(cfg, "snapshot", "bench", "-o", snapshot)),
            Step("floor", "driftd's catalog queries alone (floor)", floor),
            Step("floor_builtin", "same, independent queries", [*floor, "--queries", "builtin"]),
            Step("check_clean", "driftd check, no changes", driftd(cfg, *check, "bench")),
            Step(
                "check_changed",
                f"driftd check, {a.changes} changes",
                driftd(cfg, *check, "bench_mut"),
                ok_rc=(1,),
            ),
            Step("load_diff", "baseline load + diff (in-process)", loaddiff),
            Step(
                "load_diff_ref", "same, orjson + byte compare", [*loaddiff, "--impl", "reference"]
            ),
        ]
        if not baseline.exists():
            for s in steps:
                if s.name.startswith(("check", "load_diff")):
                    s.error = "no baseline (driftd baseline accept failed)"

        def keep_first_snapshot() -> None:
            if snapshot.exists():
                shutil.copy(snapshot, work / "snapshot-first.json")

        print(f"{spec.db}: {a.warmup} warm-up + {a.repeat} measured rounds", file=sys.stderr)
        alternate(steps, work, a.warmup, a.repeat, keep_first_snapshot)
        by = {s.name: s for s in steps}
        correctness = validate(by, work, counts, changes_file, problems)
    finally:
        if changes_file.exists():
            subprocess.run(
                [PY, BENCH / "mutate.py", "--dsn", a.dsn, "--db", spec.db, "--undo", changes_file],
                check=True,
            )
        if not a.keep:
            with generate.connect(a.dsn) as admin:
                generate.drop_database(admin, mut)
    for s in steps:
        if s.error:
            problems.append(f"{s.label}: {s.error}")
    result = {
        "benchmark": "database",
        "spec": asdict(spec),
        "catalog": counts,
        "warmup": a.warmup,
        "repeat": a.repeat,
        "changes": a.changes,
        "setup_s": setup_s,
        "steps": {s.name: s.summary() for s in steps},
        "correctness": correctness,
        "problems": problems,
    }
    result["targets"] = targets(result)
    return result


def validate(
    by: dict[str, Step], work: Path, counts: dict[str, int], changes_file: Path, problems: list[str]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    snap, first = work / "snapshot.json", work / "snapshot-first.json"
    if by["snapshot"].runs and snap.exists():
        doc = json.loads(snap.read_bytes())
        kinds = Counter(k.split(":", 1)[0] for k in doc["objects"])
        tables = [v for k, v in doc["objects"].items() if k.startswith("table:")]
        out["snapshot_objects"] = dict(sorted(kinds.items()))
        out["snapshot_columns"] = sum(len(t.get("columns", {})) for t in tables)
        want = {
            "table": counts["tables"],
            "view": counts["views"],
            "materialized_view": counts["materialized_views"],
            "role": counts["roles"],
        }
        for kind, n in want.items():
            if kinds.get(kind, 0) != n:
                problems.append(
                    f"snapshot has {kinds.get(kind, 0)} {kind} objects, the catalog {n}"
                )
        if out["snapshot_columns"] != counts["table_columns"]:
            problems.append(
                f"snapshot has {out['snapshot_columns']} table columns, "
                f"the catalog {counts['table_columns']}"
            )
        out["snapshot_deterministic"] = first.exists() and stable(
            json.loads(first.read_bytes())
        ) == stable(doc)
        if not out["snapshot_deterministic"]:
            problems.append("two snapshots of the unchanged database differ")
    if by["check_clean"].runs:
        status, found = report_objects(by["check_clean"].out(work), "bench")
        out["check_clean"] = {"status": status, "drifted_objects": found[:20]}
        if status != "clean" or found:
            problems.append(f"check with no changes: status {status}, {len(found)} drifted objects")
    if by["check_changed"].runs and changes_file.exists():
        status, found = report_objects(by["check_changed"].out(work), "bench_mut")
        cmp = compare_drift(found, json.loads(changes_file.read_text()))
        out["check_changed"] = {"status": status, **cmp}
        if cmp["missing"] or cmp["unexpected"]:
            problems.append(
                f"check with changes: missing {cmp['missing'][:10]}, "
                f"unexpected {cmp['unexpected'][:10]}"
            )
    for name in ("load_diff", "load_diff_ref"):
        if by[name].runs:
            res = json.loads(by[name].out(work).read_text())
            out[name] = {"items": res["items"], "objects": res["objects"]}
            if res["items"]:
                problems.append(
                    f"{name}: {res['items']} differences between two unchanged snapshots"
                )
    return out


def targets(r: dict[str, Any]) -> list[dict[str, Any]]:
    s = r["steps"]
    dump = s["pg_dump"]["median_s"]

    def ratio(name: str) -> float | None:
        v = s[name]["median_s"]
        return round(v / dump, 3) if v is not None and dump else None

    def floor_ratio() -> float | None:
        snap, floor = s["snapshot"]["median_s"], s["floor_builtin"]["median_s"]
        return round(snap / floor, 3) if snap is not None and floor else None

    # Issue 15's targets.
    rows = [
        ("snapshot time / pg_dump time", ratio("snapshot"), 0.4),
        ("snapshot time / independent plain-query floor", floor_ratio(), 1.3),
        (f"check ({r['changes']} changes) time / pg_dump time", ratio("check_changed"), 0.5),
        ("snapshot peak RSS (MB)", s["snapshot"]["median_rss_mb"], 300.0),
        ("baseline load + diff, unchanged (s, in-process)", s["load_diff"]["inner_median_s"], 1.0),
    ]
    return [
        {"target": t, "value": v, "limit": lim, "ok": None if v is None else v <= lim}
        for t, v, lim in rows
    ]


# -- scaling ---------------------------------------------------------------------------


def scaled_spec(a: argparse.Namespace, size: int) -> Spec:
    if size == a.tables:
        return main_spec(a)
    roles = max(10, round(a.roles * size / a.tables))
    prefix = f"{a.role_prefix.rstrip('_')}{size}_"
    return Spec(f"{a.db}_{size}", size, a.schemas, roles, prefix, a.seed)


def main_spec(a: argparse.Namespace) -> Spec:
    if a.never_analyzed:  # its own database and roles: the analyzed one stays as it is
        db, prefix = f"{a.db}_never_analyzed", a.role_prefix.rstrip("_") + "n_"
        return Spec(db, a.tables, a.schemas, a.roles, prefix, a.seed, analyzed=False)
    return Spec(a.db, a.tables, a.schemas, a.roles, a.role_prefix, a.seed)


def bench_scaling(
    a: argparse.Namespace, plot: Path, done: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The database benchmark at each size; ``done``: a result of the main size, reused."""
    points = []
    for size in a.scaling:
        spec = scaled_spec(a, size)
        reuse = done is not None and done["spec"] == asdict(spec)
        points.append(done if reuse and done is not None else bench_database(a, spec))
        if spec != main_spec(a) and not a.keep:
            generate.drop_all(a.dsn, [spec.db], spec.role_prefix)
    result: dict[str, Any] = {"benchmark": "scaling", "points": points, "plot": str(plot)}
    result["problems"] = [
        f"{p['spec']['tables']} tables: {x}" for p in points for x in p["problems"]
    ]
    result["linearity"] = linearity(points)
    draw(points, plot)
    return result


SCALING_SERIES = ("pg_dump", "snapshot", "floor", "check_clean", "check_changed")


def linearity(points: list[dict[str, Any]]) -> dict[str, Any]:
    """Per series: the cost of 1k more tables between consecutive sizes (equal means linear).

    A fixed cost (interpreter start-up, connecting) shows in the value itself,
    not in the slope; ``per_1k`` (value per 1k tables) is kept for reference.
    """
    out: dict[str, Any] = {}
    for name in SCALING_SERIES:
        for metric in ("median_s", "median_rss_mb"):
            vals = sorted((p["spec"]["tables"], p["steps"][name][metric]) for p in points)
            if all(v is not None for _, v in vals):
                out[f"{name}.{metric}"] = {
                    "per_1k": {n: round(v * 1000 / n, 4) for n, v in vals},
                    "slope_per_1k": {
                        f"{n0}-{n1}": round((v1 - v0) * 1000 / (n1 - n0), 4)
                        for (n0, v0), (n1, v1) in itertools.pairwise(vals)
                    },
                }
    return out


def linearity_table(r: dict[str, Any]) -> list[str]:
    lin = r.get("linearity") or {}
    rows = [
        (k, v["slope_per_1k"])
        for k, v in lin.items()
        if isinstance(v, dict) and "slope_per_1k" in v
    ]
    if not rows:
        return []
    spans = list(rows[0][1])
    lines = [
        "Cost of 1,000 more tables between sizes (equal slopes: linear growth; the "
        "fixed start-up cost is not in them):",
        "",
        "| series | " + " | ".join(f"{s} tables" for s in spans) + " |",
        "|---|" + "---:|" * len(spans),
    ]
    for key, slopes in rows:
        name, metric = key.split(".")
        unit = "s" if metric == "median_s" else "MB"
        label = r["points"][0]["steps"][name]["label"]
        lines.append(f"| {label} ({unit}) | " + " | ".join(fmt(slopes[s]) for s in spans) + " |")
    return [*lines, ""]


def draw(points: list[dict[str, Any]], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(
            "matplotlib is not installed (pip install -r bench/requirements.txt): no plot",
            file=sys.stderr,
        )
        return
    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name in SCALING_SERIES:
        xs = [p["spec"]["tables"] for p in points]
        label = points[0]["steps"][name]["label"]
        for ax, metric in ((ax_t, "median_s"), (ax_m, "median_rss_mb")):
            ys = [p["steps"][name][metric] for p in points]
            if all(y is not None for y in ys):
                ax.plot(xs, ys, marker="o", label=label)
    ax_t.set(title="wall time (median)", xlabel="tables", ylabel="seconds")
    ax_m.set(title="peak RSS of the client process", xlabel="tables", ylabel="MB")
    for ax in (ax_t, ax_m):
        ax.grid(alpha=0.3)
        ax.set_xlim(left=0)
        ax.set_ylim(bottom=0)
    ax_t.legend(fontsize=8)
    fig.suptitle("driftd benchmark scaling")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"wrote {path}", file=sys.stderr)


# -- fleet --------------------------------------------------------------------------------


def bench_fleet(a: argparse.Namespace) -> dict[str, Any]:
    spec = Spec(a.fleet_prefix, a.fleet_tables, 2, 50, a.fleet_role_prefix, a.seed)
    names = generate.fleet_names(a.fleet, a.fleet_prefix)
    with generate.connect(a.dsn) as admin:
        have = generate.existing_fleet(admin, a.fleet_prefix)
        built = have == names and generate.db_marker(admin, names[0]) == {
            **asdict(spec),
            "db": names[0],
        }
    build_s = (
        None
        if built and not a.rebuild
        else round(generate.build_fleet(a.dsn, spec, a.fleet, a.fleet_prefix), 1)
    )
    work = fresh_dir(a.work / a.fleet_prefix.rstrip("_"))
    envs = {f"fleet_{i:03d}": db for i, db in enumerate(names)}
    cfg = write_config(work, a.dsn, envs, spec.role_prefix)
    problems: list[str] = []
    started = time.perf_counter()
    for env in envs:
        setup(driftd(cfg, "baseline", "accept", env), work, "baseline", problems)
    setup_s: dict[str, float | None] = {
        "build": build_s,
        "baseline_accept_all": round(time.perf_counter() - started, 1),
    }
    last_env, last_db = list(envs.items())[-1]
    changes_file = work / "changes.json"
    mutate_cmd: list[str | Path] = [
        PY,
        BENCH / "mutate.py",
        "--dsn",
        a.dsn,
        "--db",
        last_db,
        "--no-roles",
    ]
    mutate_cmd += [
        "--role-prefix",
        spec.role_prefix,
        "--count",
        str(a.fleet_changes),
        "--out",
        changes_file,
    ]
    per_env: list[list[float]] = []  # per recorded run --once: each environment's check time
    seen: set[int] = set()

    def record_runs(recorded: bool) -> None:
        durations = new_runs(work / "state.db", seen)
        if recorded:
            per_env.append(durations)

    try:
        setup_s["mutate"] = setup(mutate_cmd, work, "mutate", problems)
        steps = [
            Step(
                "run_once",
                f"driftd run --once ({a.fleet} environments)",
                driftd(cfg, "run", "--once"),
                ok_rc=(0, 1),
                sample=0.25,
                after_run=lambda m, recorded: record_runs(recorded),
            ),
            Step(
                "check_all",
                f"driftd check, all {a.fleet} environments",
                driftd(cfg, "check", "--format", "json"),
                ok_rc=(1,),
            ),
        ]
        new_runs(work / "state.db", seen)  # the baseline runs, if any, are not measured
        alternate(steps, work, a.warmup, a.repeat, lambda: None)
        # Exit 1: drift is open (in the last environment), as it should be.
        status = setup(driftd(cfg, "status", "--format", "json"), work, "status", problems, (0, 1))
        correctness: dict[str, Any] = {}
        changes = json.loads(changes_file.read_text()) if changes_file.exists() else None
        if status is not None and changes:
            doc = json.loads((work / "status.out").read_text())
            states = {e["name"]: e for e in doc["environments"]}
            wrong = [
                n
                for n in envs
                if states.get(n, {}).get("status") != ("drift" if n == last_env else "clean")
            ]
            correctness["status"] = {"environments": len(states), "wrong_status": wrong}
            if len(states) != len(envs) or wrong:
                problems.append(
                    f"status after run --once: {len(states)} environments, "
                    f"wrong status: {wrong[:10]}"
                )
        if steps[1].runs and changes:
            found = report_objects(steps[1].out(work), last_env)[1]
            correctness["check_all"] = compare_drift(found, changes)
            if correctness["check_all"]["missing"] or correctness["check_all"]["unexpected"]:
                problems.append(f"fleet check: {correctness['check_all']}")
    finally:
        with generate.connect(a.dsn) as admin:  # restore the mutated database from the first
            generate.drop_database(admin, last_db)
            generate.create_database(
                admin, last_db, Spec(**{**asdict(spec), "db": last_db}).marker(), names[0]
            )
    problems += [f"{s.label}: {s.error}" for s in steps if s.error]
    return {
        "benchmark": "fleet",
        "spec": asdict(spec),
        "environments": a.fleet,
        "changes": a.fleet_changes,
        "warmup": a.warmup,
        "repeat": a.repeat,
        "setup_s": setup_s,
        "steps": {s.name: s.summary() for s in steps},
        "per_environment_s": per_environment(per_env, a.fleet, problems),
        "correctness": correctness,
        "problems": problems,
        "targets": fleet_targets(steps[0].summary()),
    }


def fleet_targets(run_once: dict[str, Any]) -> list[dict[str, Any]]:
    """The whole fleet in under 2 minutes; memory flat while it runs (end ≤ 1.2 × at 25 %)."""
    growth = None
    profiles = [p for p in run_once.get("rss_profile_mb") or [] if p]
    if profiles:
        growth = statistics.median(round(p["100%"] / p["25%"], 3) for p in profiles)
    rows = [
        ("run --once, whole fleet (s)", run_once["median_s"], 120.0),
        ("run --once RSS at the end / at 25 % of the run", growth, 1.2),
    ]
    return [
        {"target": t, "value": v, "limit": lim, "ok": None if v is None else v <= lim}
        for t, v, lim in rows
    ]


def new_runs(state_db: Path, seen: set[int]) -> list[float]:
    """Check durations (s) of the runs recorded in the state store since the last call."""
    if not state_db.exists():
        return []
    with sqlite3.connect(state_db) as db:
        rows = db.execute("SELECT id, duration_seconds FROM runs ORDER BY id").fetchall()
    fresh = [(i, d) for i, d in rows if i not in seen]
    seen.update(i for i, _ in fresh)
    return [d for _, d in fresh]


def per_environment(rounds: list[list[float]], envs: int, problems: list[str]) -> dict[str, Any]:
    """p50 / p95 / max of one environment's check inside ``run --once``, over all rounds."""
    for n, durations in enumerate(rounds):
        if len(durations) != envs:
            problems.append(f"run --once round {n + 1} recorded {len(durations)} runs, not {envs}")
    every = sorted(d for r in rounds for d in r)
    if not every:
        return {}

    def pct(p: float) -> float:
        return round(every[min(len(every) - 1, int(p / 100 * len(every)))], 3)

    return {"runs": len(every), "p50": pct(50), "p95": pct(95), "max": round(every[-1], 3)}


# -- output -----------------------------------------------------------------------------


def fmt(v: Any, unit: str = "") -> str:
    if v is None:
        return "–"
    return f"{v:.3g}{unit}" if isinstance(v, float) else f"{v}{unit}"


# The order of the tables (a result read back from its .json has its steps sorted by name).
STEP_ORDER = (
    "pg_dump",
    "snapshot",
    "floor",
    "floor_builtin",
    "check_clean",
    "check_changed",
    "load_diff",
    "load_diff_ref",
    "run_once",
    "check_all",
)


def steps_table(r: dict[str, Any]) -> list[str]:
    dump = r["steps"].get("pg_dump", {}).get("median_s")
    lines = [
        "| step | median s | min–max s | in-process s | peak RSS MB | × pg_dump |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    order = {name: i for i, name in enumerate(STEP_ORDER)}
    for _, s in sorted(r["steps"].items(), key=lambda kv: order.get(kv[0], len(order))):
        if s["error"] and not s["runs"]:
            lines.append(f"| {s['label']} | not run: {s['error'][:80]} | | | | |")
            continue
        x = fmt(round(s["median_s"] / dump, 2)) if dump and s["median_s"] else "–"
        lines.append(
            f"| {s['label']} | {fmt(s['median_s'])} | {fmt(s['min_s'])}–{fmt(s['max_s'])} | "
            f"{fmt(s['inner_median_s'])} | {fmt(s['median_rss_mb'])} | {x} |"
        )
    return lines


def markdown(r: dict[str, Any], m: dict[str, Any]) -> str:
    lines = [
        f"Machine: {m['cpus']} CPUs ({m.get('cpu', '?')}), {m['memory_gib']} GiB, "
        f"PostgreSQL {m['postgresql']}, {m['pg_dump']}, Python {m['python']}, "
        f"driftd {m['driftd']} {m['commit'] or ''}, load average at the end "
        f"{'/'.join(map(str, m['loadavg_1_5_15']))}",
        "",
    ]
    results = r["points"] if r["benchmark"] == "scaling" else [r]
    for p in results:
        spec = p["spec"]
        if p["benchmark"] == "fleet":
            lines.append(f"### Fleet: {p['environments']} databases × {spec['tables']} tables")
        else:
            c = p["catalog"]
            lines.append(
                f"### {spec['db']}: {c['tables']} tables, {c['table_columns']} columns, "
                f"{c['indexes']} indexes, {c['views']} views, {c['roles']} roles, "
                f"{c['table_grants']} table grants"
            )
        lines += [
            "",
            f"Median of {p.get('repeat', '?')} alternating rounds after "
            f"{p.get('warmup', '?')} warm-up.",
            "",
            *steps_table(p),
            "",
        ]
        if p["benchmark"] == "fleet":
            pe = p.get("per_environment_s") or {}
            profiles = p["steps"]["run_once"].get("rss_profile_mb") or []
            lines += [
                f"Per environment, inside `run --once` (check time as recorded in the state "
                f"store, {pe.get('runs', 0)} runs): p50 {fmt(pe.get('p50'))} s, "
                f"p95 {fmt(pe.get('p95'))} s, max {fmt(pe.get('max'))} s.",
                "",
            ]
            if profiles:
                prof = profiles[len(profiles) // 2]
                lines += [
                    "RSS of `run --once` over its run (MB, at % of its wall time): "
                    + ", ".join(f"{k} {v}" for k, v in prof.items()),
                    "",
                ]
        largest = max(q["spec"]["tables"] for q in results)
        if p.get("targets") and p["benchmark"] == "database" and p["spec"]["tables"] < largest:
            lines += [
                "The targets are set at the largest size; here a fixed ~0.5 s of start-up "
                "(interpreter, imports, connecting) is most of driftd's time.",
                "",
            ]
        elif p.get("targets"):
            lines += ["| target | value | limit | met |", "|---|---:|---:|:---:|"]
            for t in p["targets"]:
                ok = {True: "yes", False: "**no**", None: "–"}[t["ok"]]
                lines.append(f"| {t['target']} | {fmt(t['value'])} | {t['limit']} | {ok} |")
            lines.append("")
        lines.append(
            "Correctness: "
            + ("all checks passed" if not p["problems"] else "; ".join(p["problems"]))
        )
        lines.append("")
    if r["benchmark"] == "scaling":
        lines += linearity_table(r)
        lines += [f"![scaling]({Path(r['plot']).name})", ""]
    return "\n".join(lines)


def write(r: dict[str, Any], a: argparse.Namespace, name: str) -> None:
    m = machine(a.dsn)
    r["machine"] = m
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / f"{name}.json").write_text(json.dumps(r, indent=2, sort_keys=True) + "\n")
    md = markdown(r, m)
    (a.out / f"{name}.md").write_text(md)
    print(md)


# -- command line --------------------------------------------------------------------------


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--dsn", default=generate.DEFAULT_DSN, help="server (any database in it)")
    ap.add_argument("--db", default="driftd_bench")
    ap.add_argument("--tables", type=int, default=10_000)
    ap.add_argument("--schemas", type=int, default=10)
    ap.add_argument("--roles", type=int, default=1_000)
    ap.add_argument("--role-prefix", default="bb_")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=5, help="measured rounds (median)")
    ap.add_argument("--warmup", type=int, default=1, help="unmeasured rounds first")
    ap.add_argument("--changes", type=int, default=100, help="out-of-band changes for check")
    ap.add_argument("--rebuild", action="store_true", help="rebuild even if the database matches")
    ap.add_argument(
        "--never-analyzed",
        action="store_true",
        help="the main benchmark on a catalog never analyzed (<db>_never_analyzed)",
    )
    ap.add_argument("--keep", action="store_true", help="keep the _mut copy and scaling databases")
    ap.add_argument(
        "--scaling", type=lambda s: [int(x) for x in s.split(",")], help="e.g. 1000,5000,10000"
    )
    ap.add_argument("--fleet", type=int, default=0, help="environments for the fleet benchmark")
    ap.add_argument("--fleet-tables", type=int, default=200)
    ap.add_argument("--fleet-changes", type=int, default=10, help="changes in the last environment")
    ap.add_argument("--fleet-prefix", default="driftd_fleet_")
    ap.add_argument("--fleet-role-prefix", default="bf_")
    ap.add_argument(
        "--smoke", action="store_true", help="small run of everything; fail on wrong results"
    )
    ap.add_argument(
        "--all",
        action="store_true",
        help="everything recorded in bench/README.md: main, scaling (--scaling, default "
        "1000,5000,10000; the main result is its last point) and fleet (--fleet, default 200)",
    )
    ap.add_argument("--work", type=Path, default=BENCH / "work", help="scratch files (gitignored)")
    ap.add_argument("--out", type=Path, default=BENCH / "results", help="results .json and .md")
    ap.add_argument(
        "--smoke-tag",
        default="",
        help="with --smoke: appended to every database and role name it creates, so that "
        "several smoke runs can share a server (tests/test_bench_smoke.py)",
    )
    a = ap.parse_args(argv)
    if a.all:
        a.scaling = a.scaling or [1000, 5000, a.tables]
        a.fleet = a.fleet or 200
    if a.smoke:
        tag = a.smoke_tag
        a.tables, a.schemas, a.roles = 300, 3, 60
        a.db, a.role_prefix = f"driftd_bench_smoke{tag}", f"bsm{tag}_"
        a.repeat, a.warmup, a.changes, a.rebuild = 1, 1, 40, True
        a.scaling, a.fleet, a.fleet_tables, a.fleet_changes = [100, 300], 5, 40, 10
        a.fleet_prefix, a.fleet_role_prefix = f"driftd_smokefleet{tag}_", f"bsmf{tag}_"
        a.out = a.work / f"smoke{tag}"
    return a


def main(argv: list[str] | None = None) -> int:
    a = parse(argv)
    problems: list[str] = []
    if a.smoke:
        try:
            r = bench_scaling(a, a.out / "scaling.png")
            write(r, a, "scaling")
            f = bench_fleet(a)
            write(f, a, "fleet")
            problems = r["problems"] + f["problems"]
        finally:
            generate.drop_all(a.dsn, [a.db], a.role_prefix)
            with generate.connect(a.dsn) as admin:
                fleet = generate.existing_fleet(admin, a.fleet_prefix)
            generate.drop_all(a.dsn, fleet, a.fleet_role_prefix)
    elif a.all:
        main_result = bench_database(a, main_spec(a))
        write(main_result, a, "main")
        r = bench_scaling(a, BENCH / "scaling.png", done=main_result)
        write(r, a, "scaling")
        f = bench_fleet(a)
        write(f, a, "fleet")
        problems = main_result["problems"] + r["problems"] + f["problems"]
        if not a.keep:  # the fleet's databases are only for this; the main one is kept
            with generate.connect(a.dsn) as admin:
                fleet = generate.existing_fleet(admin, a.fleet_prefix)
            generate.drop_all(a.dsn, fleet, a.fleet_role_prefix)
    elif a.scaling:
        r = bench_scaling(a, BENCH / "scaling.png")
        write(r, a, "scaling")
        problems = r["problems"]
    elif a.fleet:
        r = bench_fleet(a)
        write(r, a, "fleet")
        problems = r["problems"]
    else:
        r = bench_database(a, main_spec(a))
        write(r, a, "main_never_analyzed" if a.never_analyzed else "main")
        problems = r["problems"]
    for p in problems:
        print(f"PROBLEM: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
