"""`driftd check` as a process, and start-up, side by side with pg_dump (issue 15).

Alternates, for ``--repeat`` rounds after ``--warmup``, each command a child
process wrapped by ``rss.py`` (wall time and peak RSS of exactly that child):

- ``pg_dump --schema-only`` of the database (the yardstick);
- ``driftd check`` of the unchanged database, reusing the last full check from
  the cache directory (start-up, config, fingerprint, output);
- the same with ``--full`` (snapshot, baseline, diff);
- ``driftd --help`` and ``driftd config validate`` (start-up alone).

A cached round where the check was full after all is left out and counted:
another client of this shared server created or dropped a role, which moves
the fingerprint (correct, but not this number); the cache file's time says so.

Writes ``bench/results/cli[_never_analyzed].{json,md}``. Needs the database that
``bench/generate.py`` builds (``python bench/run.py [--never-analyzed]`` builds it).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
PY = sys.executable
sys.path.insert(0, str(BENCH))

import timing  # noqa: E402  (bench/timing.py, beside this script)


def measured(cmd: list[str], ok: tuple[int, ...] = (0,)) -> dict[str, Any]:
    """Wall seconds and peak RSS of ``cmd`` (through rss.py, started with -S)."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        done = subprocess.run(
            [PY, "-S", str(BENCH / "rss.py"), out.name, *cmd],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
        result: dict[str, Any] = json.loads(Path(out.name).read_text())
    if result["rc"] not in ok:
        raise SystemExit(f"{' '.join(cmd)} exited {result['rc']}: {done.stderr.strip()}")
    return result


def main() -> int:
    ap = timing.database_options(__doc__, BENCH / "results")
    ap.add_argument("--work", type=Path, default=BENCH / "work")
    a = ap.parse_args()

    work = a.work / f"cli-{a.db}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    cache = work / "cache"
    config = work / "driftd.toml"
    url = f"postgresql+psycopg://{a.user}@{a.host}:{a.port}/{a.db}"
    config.write_text(
        f'[driftd]\ncache_dir = "cache"\n\n[environments.bench]\nurl = "{url}"\n'
        f'roles = ["{a.role_prefix}*"]\n'
    )
    driftd = [PY, "-m", "driftd", "--config", str(config)]
    subprocess.run([*driftd, "baseline", "accept", "bench"], check=True, capture_output=True)
    dump = ["pg_dump", "--schema-only", f"--host={a.host}", f"--port={a.port}"]
    dump += [f"--username={a.user}", "-f", str(work / "pg_dump.sql"), a.db]
    check = [*driftd, "check", "bench", "--format", "json"]
    runs = {
        "pg_dump --schema-only": dump,
        "driftd check, unchanged, reused (process)": check,
        "driftd check --full, unchanged (process)": [*check, "--full"],
        "driftd --help": [PY, "-m", "driftd", "--help"],
        "driftd config validate": [*driftd, "config", "validate"],
    }
    cached = "driftd check, unchanged, reused (process)"
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in runs}
    misses = 0
    for round_ in range(a.warmup + a.repeat):
        for name, cmd in runs.items():
            before = _at(cache)
            result = measured(cmd)
            if name == cached and (before is None or _at(cache) != before):
                misses += round_ >= a.warmup
                continue
            if round_ >= a.warmup:
                results[name].append(result)
    write(a, results, misses)
    return 0


def _at(cache: Path) -> float | None:
    files = list(cache.glob("bench.*.json"))
    return float(json.loads(files[0].read_text())["at"]) if files else None


def write(a: argparse.Namespace, results: dict[str, list[dict[str, Any]]], misses: int) -> None:
    base = statistics.median(r["wall_s"] for r in results["pg_dump --schema-only"])
    rows: dict[str, dict[str, Any]] = {}
    for name, runs in results.items():
        wall = [r["wall_s"] for r in runs]
        rss = [r["maxrss_kib"] / 1024 for r in runs]
        rows[name] = {
            "rounds": len(runs),
            "median_s": round(statistics.median(wall), 3) if wall else None,
            "min_s": min(wall, default=None),
            "max_s": max(wall, default=None),
            "median_rss_mb": round(statistics.median(rss), 1) if rss else None,
            "ratio_to_pg_dump": round(statistics.median(wall) / base, 3) if wall else None,
        }
    load = Path("/proc/loadavg").read_text().split()[:3]
    name = "cli_never_analyzed" if a.db.endswith("never_analyzed") else "cli"
    out = {"database": a.db, "repeat": a.repeat, "reuse_misses": misses, "load": load}
    out |= {"steps": rows, "runs": results}
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / f"{name}.json").write_text(json.dumps(out, indent=2) + "\n")
    lines = [
        f"# `driftd check` process and start-up on `{a.db}` (median of {a.repeat}, "
        f"alternated with pg_dump; {misses} reused round(s) left out: the fingerprint "
        f"moved; load {' '.join(load)} at the end)",
        "",
        "| run | median s | min–max s | peak RSS MB | × pg_dump |",
        "|---|---:|---:|---:|---:|",
    ]
    for step, r in rows.items():
        if r["median_s"] is None:
            lines.append(f"| {step} | – | – | – | – |")
            continue
        lines.append(
            f"| {step} | {r['median_s']:.3f} | {r['min_s']:.3f}–{r['max_s']:.3f} | "
            f"{r['median_rss_mb']:.0f} | {r['ratio_to_pg_dump']:.3f} |"
        )
    (a.out / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    raise SystemExit(main())
