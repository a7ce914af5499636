"""The no-change fast path (issue 15), side by side with pg_dump on the same catalog.

Alternates, for ``--repeat`` rounds after ``--warmup``:

- ``pg_dump --schema-only`` of the database (the yardstick);
- the catalog fingerprint alone (``driftd.collect.postgres.fingerprint``);
- a daemon check of the unchanged database with the fast path warm
  (``check_environment(..., fast=FastPath())`` after one full check): the
  fingerprint, the baseline's stat and a copy of the remembered items;
- the same check without the fast path (snapshot, baseline parse, diff).

Prints the medians and writes ``bench/results/fastpath.{json,md}``. Needs the
database that ``bench/generate.py`` builds (``python bench/run.py`` builds it).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

import timing  # noqa: E402  (bench/timing.py, beside this script)

from driftd import snapshot  # noqa: E402
from driftd.check import FastPath, check_environment  # noqa: E402
from driftd.collect import Target  # noqa: E402
from driftd.collect.postgres.fingerprint import fingerprint  # noqa: E402
from driftd.config.load import parse  # noqa: E402


def main() -> int:
    a = timing.database_options(__doc__, BENCH / "results").parse_args()

    work = Path(tempfile.mkdtemp(prefix="driftd-fastpath-"))
    url = f"postgresql+psycopg://{a.user}@{a.host}:{a.port}/{a.db}"
    config = work / "driftd.toml"
    config.write_text(f'[environments.bench]\nurl = "{url}"\nroles = ["{a.role_prefix}*"]\n')
    env = parse(config.read_text(), config).resolve("bench")
    snapshot.write_baseline(env, snapshot.to_bytes(snapshot.stable(snapshot.take(env))))
    target = Target.of(env)
    fast = FastPath()
    first = check_environment(env, for_store=True, fast=fast)  # the full check it remembers
    assert first.status == "clean", first.error or [i.object for i in first.drift]
    dump = [
        "pg_dump",
        "--schema-only",
        f"--host={a.host}",
        f"--port={a.port}",
        f"--username={a.user}",
        a.db,
    ]
    runs: dict[str, Callable[[], Any]] = {
        "pg_dump --schema-only": lambda: subprocess.run(
            dump, check=True, stdout=subprocess.DEVNULL
        ),
        "fingerprint alone": lambda: fingerprint(target),
        "daemon check, unchanged, fast path": lambda: check_environment(
            env, for_store=True, fast=fast
        ),
        "daemon check, unchanged, full": lambda: check_environment(env, for_store=True),
    }
    fast_name = "daemon check, unchanged, fast path"
    misses = [0]
    reused = [fast.reused]

    def hit(name: str) -> bool:
        """False for a fast-path round where another client created or dropped a role on
        this shared server: the fingerprint moved and a full check ran (correct, but
        not this number)."""
        taken, reused[0] = fast.reused != reused[0], fast.reused
        if name == fast_name and not taken:
            misses[0] += 1
            return False
        return True

    times = timing.rounds(runs, a.warmup, a.repeat, keep=hit)
    seconds = timing.medians(times)
    base = seconds["pg_dump --schema-only"]
    result = {
        "database": a.db,
        "repeat": a.repeat,
        "fast_path_misses": misses[0],
        "seconds": seconds,
        "ratio_to_pg_dump": {name: m / base for name, m in seconds.items()},
        "runs": times,
    }
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "fastpath.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = timing.ratio_table(
        f"# No-change fast path on `{a.db}` (median of {a.repeat}, alternated; "
        f"{misses[0]} fast-path round(s) left out: the fingerprint moved)",
        seconds,
        "pg_dump --schema-only",
        3,
    )
    (a.out / "fastpath.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
