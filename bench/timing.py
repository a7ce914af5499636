"""In-process timing shared by bench/fastpath.py and bench/mysql.py: named calls run in
turn, round after round, and their medians as a table against a yardstick; and the
options of the benchmarks of one database (fastpath.py, cli.py)."""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def rounds(
    runs: dict[str, Callable[[], Any]],
    warmup: int,
    repeat: int,
    keep: Callable[[str], bool] = lambda name: True,
) -> dict[str, list[float]]:
    """Seconds of each measured call, by name. ``keep(name)``, asked right after each
    call (warm-up ones too), leaves a call out of the figures when it says False."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for round_ in range(warmup + repeat):
        for name, fn in runs.items():
            t0 = time.perf_counter()
            fn()
            seconds = time.perf_counter() - t0
            if keep(name) and round_ >= warmup:
                times[name].append(seconds)
    return times


def medians(times: dict[str, list[float]]) -> dict[str, float]:
    return {name: statistics.median(ts) for name, ts in times.items()}


def ratio_table(title: str, seconds: dict[str, float], base: str, digits: int) -> list[str]:
    """Markdown lines: each run's median and its ratio to the ``base`` run's."""
    yardstick = seconds[base]
    lines = [title, "", f"| run | seconds | × {base.split()[0]} |", "|---|---:|---:|"]
    lines += [f"| {n} | {m:.3f} | {m / yardstick:.{digits}f} |" for n, m in seconds.items()]
    return lines


def database_options(description: str | None, results: Path) -> argparse.ArgumentParser:
    """The options of a benchmark of one generated database, side by side with pg_dump."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=5432)
    ap.add_argument("--user", default="postgres")
    ap.add_argument("--db", default="driftd_bench")
    ap.add_argument("--role-prefix", default="bb_")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--out", type=Path, default=results)
    return ap
