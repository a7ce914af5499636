"""Baseline load + diff, timed in-process: ``python bench/loaddiff.py BASELINE SNAPSHOT``.

Prints JSON: seconds to read each file (driftd.snapshot.read: read + parse +
format check), to diff the object maps (driftd.diff.diff_objects), the total,
and the number of drift items. ``--impl reference`` does the same with plain
orjson and a per-object byte comparison: the floor for the diff step.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import orjson


def driftd_impl(baseline: Path, live: Path) -> dict[str, Any]:
    from driftd import snapshot
    from driftd.diff import diff_objects

    t0 = time.perf_counter()
    before = snapshot.read(baseline, "baseline")
    t1 = time.perf_counter()
    after = snapshot.read(live)
    t2 = time.perf_counter()
    items = diff_objects(before["objects"], after["objects"])
    t3 = time.perf_counter()
    return _result(t0, t1, t2, t3, len(items), len(before["objects"]))


def reference_impl(baseline: Path, live: Path) -> dict[str, Any]:
    t0 = time.perf_counter()
    before = orjson.loads(baseline.read_bytes())["objects"]
    t1 = time.perf_counter()
    after = orjson.loads(live.read_bytes())["objects"]
    t2 = time.perf_counter()
    dumps = orjson.dumps
    opt = orjson.OPT_SORT_KEYS
    changed = before.keys() ^ after.keys()
    changed |= {
        k
        for k in before.keys() & after.keys()
        if dumps(before[k], option=opt) != dumps(after[k], option=opt)
    }
    t3 = time.perf_counter()
    return _result(t0, t1, t2, t3, len(changed), len(before))


def _result(t0: float, t1: float, t2: float, t3: float, items: int, objects: int) -> dict[str, Any]:
    return {
        "load_baseline_s": round(t1 - t0, 4),
        "load_live_s": round(t2 - t1, 4),
        "diff_s": round(t3 - t2, 4),
        "total_s": round(t3 - t0, 4),
        "items": items,
        "objects": objects,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("baseline", type=Path)
    ap.add_argument("live", type=Path)
    ap.add_argument("--impl", choices=("driftd", "reference"), default="driftd")
    a = ap.parse_args()
    run = driftd_impl if a.impl == "driftd" else reference_impl
    print(json.dumps({"impl": a.impl, **run(a.baseline, a.live)}))


if __name__ == "__main__":
    main()
