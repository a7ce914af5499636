"""The diff step alone, before/after deepdiff: ``python bench/diffbench.py``.

Synthesises a baseline of ``--tables`` table objects shaped like the
collector's (columns, constraints, indexes, grants, triggers, policies,
options; the ``driftd_bench`` mix of bench/generate.py) plus a few enum types
and roles, makes ``--changes`` changed copies (the kinds of bench/mutate.py,
in turn, one per object), and times ``driftd.diff.diff_objects`` on the pair,
in-process: the working tree's (deepdiff) and, loaded from ``git show
<--before>:driftd/diff/__init__.py``, the hand-written walker it replaced.
Rounds alternate the two; medians are printed, with a check that both give
the same drift items. No database is needed.

``--import-cost`` also times ``import deepdiff`` in a fresh interpreter (paid
once per process, on the first changed object).
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TYPES = [
    "bigint",
    "integer",
    "text",
    "varchar(64)",
    "boolean",
    "timestamptz",
    "numeric(12,2)",
    "uuid",
    "jsonb",
    "date",
    "bytea",
    "smallint",
    "double precision",
    "inet",
    "interval",
    "s0.mood",
    "s0.email_d",
]
PRIVS = ["DELETE", "INSERT", "REFERENCES", "SELECT", "TRIGGER", "TRUNCATE", "UPDATE"]

Objects = dict[str, dict[str, Any]]


def column(rng: random.Random, i: int) -> dict[str, Any]:
    return {
        "collation": None,
        "comment": f"column {i}" if rng.random() < 0.1 else None,
        "compression": None,
        "default": "nextval('seq'::regclass)" if i == 0 and rng.random() < 0.3 else None,
        "generated": None,
        "identity": "always" if i == 0 and rng.random() < 0.3 else None,
        "identity_options": None,
        "nullable": i != 0 and rng.random() < 0.6,
        "statistics": None,
        "storage": None,
        "type": rng.choice(TYPES),
    }


def table(rng: random.Random, n: int, roles: list[str]) -> dict[str, Any]:
    ncols = rng.randint(4, 16)
    cols = {
        ("id" if i == 0 else f"c{i}_{rng.randint(0, 99)}"): column(rng, i) for i in range(ncols)
    }
    names = list(cols)
    cons: dict[str, Any] = {
        f"t{n}_pkey": {
            "deferrable": False,
            "deferred": False,
            "definition": "PRIMARY KEY (id)",
            "type": "primary_key",
            "validated": True,
        },
    }
    for j in range(rng.randint(0, 2)):
        cons[f"t{n}_fk{j}"] = {
            "deferrable": False,
            "deferred": False,
            "type": "foreign_key",
            "definition": f"FOREIGN KEY ({names[-1]}) REFERENCES s0.t{j}(id) ON DELETE CASCADE",
            "validated": True,
        }
    if rng.random() < 0.3:
        cons[f"t{n}_check"] = {
            "deferrable": False,
            "deferred": False,
            "type": "check",
            "definition": f"CHECK ((length({names[1]}) < 100))",
            "validated": True,
        }
    indexes = {
        f"t{n}_idx{j}": {
            "definition": f"CREATE INDEX t{n}_idx{j} ON s0.t{n} USING btree ({names[j % ncols]})",
            "unique": rng.random() < 0.2,
            "predicate": None,
            "comment": None,
        }
        for j in range(rng.randint(0, 3))
    }
    grants = {
        r: sorted(rng.sample(PRIVS, rng.randint(1, 7)))
        for r in rng.sample(roles, rng.randint(1, 4))
    }
    triggers = (
        {
            f"trg_{n}": {
                "enabled": "O",
                "definition": f"CREATE TRIGGER trg_{n} BEFORE UPDATE ON s0.t{n}"
                " FOR EACH ROW EXECUTE FUNCTION s0.touch()",
                "comment": None,
            }
        }
        if rng.random() < 0.2
        else {}
    )
    policies = (
        {
            "own": {
                "command": "ALL",
                "roles": ["PUBLIC"],
                "using": "(owner = CURRENT_USER)",
                "check": None,
                "permissive": True,
            }
        }
        if rng.random() < 0.05
        else {}
    )
    return {
        "column_grants": {},
        "columns": cols,
        "comment": f"table {n}" if rng.random() < 0.3 else None,
        "constraints": cons,
        "grants": grants,
        "indexes": indexes,
        "inherits": [],
        "options": {"fillfactor": "80"} if rng.random() < 0.05 else {},
        "owner": "bb_owner",
        "partition_of": None,
        "partitioning": None,
        "persistence": "unlogged" if rng.random() < 0.01 else "permanent",
        "policies": policies,
        "rls": {"enabled": bool(policies), "forced": False},
        "triggers": triggers,
    }


def baseline(tables: int, seed: int) -> Objects:
    rng = random.Random(seed)
    roles = [f"bb_role_{i}" for i in range(100)]
    objs: Objects = {f"table:s{n % 10}.t{n}": table(rng, n, roles) for n in range(tables)}
    for s in range(10):
        objs[f"type:s{s}.mood"] = {
            "kind": "enum",
            "labels": ["happy", "ok", "sad"],
            "owner": "bb_owner",
        }
    for r in roles:
        objs[f"role:{r}"] = {
            "login": True,
            "superuser": False,
            "bypassrls": False,
            "member_of": {},
            "settings": {},
        }
    return objs


def _mutate(kind: int, o: dict[str, Any], rng: random.Random) -> None:
    cols = o["columns"]
    name = sorted(cols)[-1]
    match kind:
        case 0:  # add column
            cols["added"] = column(rng, 5)
        case 1:  # drop column
            del cols[name]
        case 2:  # change a column's type
            cols[name]["type"] = "text" if cols[name]["type"] != "text" else "varchar(10)"
        case 3:  # set NOT NULL
            cols[name]["nullable"] = not cols[name]["nullable"]
        case 4:  # add index
            o["indexes"]["new_idx"] = {
                "definition": "CREATE INDEX new_idx ON x (id)",
                "unique": False,
                "predicate": None,
                "comment": None,
            }
        case 5:  # grant to a role
            o["grants"]["bb_new"] = ["SELECT"]
        case 6:  # revoke: a privilege list shrinks
            g = next(iter(o["grants"]))
            o["grants"][g] = o["grants"][g][1:] or ["SELECT", "UPDATE"]
        case 7:  # grant to PUBLIC
            o["grants"]["PUBLIC"] = ["SELECT"]
        case 8:  # column-level grant
            o["column_grants"][name] = {"bb_role_1": ["SELECT"]}
        case 9:  # disable RLS / add policy
            o["rls"] = {"enabled": not o["rls"]["enabled"], "forced": False}
        case 10:  # table options
            o["options"]["fillfactor"] = "70"
        case 11:  # comment
            o["comment"] = "changed"
        case _:  # drop a constraint and change the owner
            o["constraints"] = {}
            o["owner"] = "bb_other"


def mutated(before: Objects, changes: int, seed: int, every_column: bool = False) -> Objects:
    rng = random.Random(seed + 1)
    after = dict(before)
    tables = sorted(k for k in before if k.startswith("table:"))
    rng.shuffle(tables)
    for i, key in enumerate(tables[:changes]):
        obj = copy.deepcopy(before[key])
        if every_column:  # e.g. a baseline from an older collector: two fields on every column
            for col in obj["columns"].values():
                col["collation"] = "C"
                col["attstattarget"] = -1
        else:
            _mutate(i % 13, obj, rng)
        after[key] = obj
    # Whole-list changes on the enum types: labels reordered, one added.
    types = sorted(k for k in before if k.startswith("type:"))
    for i, key in enumerate(types[: max(1, changes // 100)]):
        obj = copy.deepcopy(before[key])
        obj["labels"] = ["sad", "ok", "happy"] if i % 2 else [*obj["labels"], "meh"]
        after[key] = obj
    return after


def load_before(rev: str) -> Callable[..., Any]:
    src = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{rev}:driftd/diff/__init__.py"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(src)
    spec = importlib.util.spec_from_file_location("driftd_diff_before", f.name)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.diff_objects  # type: ignore[no-any-return]


def import_cost() -> float:
    code = "import time; t=time.perf_counter(); import deepdiff; print(time.perf_counter()-t)"
    runs = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(5)
    ]
    return statistics.median(runs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tables", type=int, default=10_000)
    ap.add_argument("--changes", default="100,10000", help="comma-separated, one run each")
    ap.add_argument("--repeat", type=int, default=5, help="measured rounds (alternating)")
    ap.add_argument("--before", default="HEAD", help="git revision of the walker (default HEAD)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--every-column",
        action="store_true",
        help="change two fields of every column of each changed table (the many-items case)",
    )
    ap.add_argument("--import-cost", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    sys.path.insert(0, str(ROOT))
    from driftd.diff import diff_objects as after_impl

    impls = {"before (walker)": load_before(args.before), "after (deepdiff)": after_impl}
    base = baseline(args.tables, args.seed)
    results: list[dict[str, Any]] = []
    for changes in (int(c) for c in args.changes.split(",")):
        live = mutated(base, changes, args.seed, args.every_column)
        outputs = {name: [i.__dict__ for i in fn(base, live)] for name, fn in impls.items()}
        same = len({json.dumps(v, sort_keys=True, default=str) for v in outputs.values()}) == 1
        times: dict[str, list[float]] = {name: [] for name in impls}
        for r in range(args.repeat):
            order = list(impls.items())
            for name, fn in order if r % 2 == 0 else order[::-1]:
                t = time.perf_counter()
                fn(base, live)
                times[name].append(time.perf_counter() - t)
        row = {
            "objects": len(base),
            "changed": changes + max(1, changes // 100),
            "items": len(next(iter(outputs.values()))),
            "same_items": same,
            **{
                n: {
                    "median_s": round(statistics.median(v), 4),
                    "min_s": round(min(v), 4),
                    "max_s": round(max(v), 4),
                }
                for n, v in times.items()
            },
        }
        results.append(row)
        if not args.json:
            line = ", ".join(f"{n} {row[n]['median_s']} s" for n in impls)  # type: ignore[index]
            print(
                f"{row['changed']} changed objects of {row['objects']}: {line}; "
                f"{row['items']} items, same: {same}",
                flush=True,
            )
    out: dict[str, Any] = {"runs": results}
    if args.import_cost:
        out["import_deepdiff_s"] = round(import_cost(), 3)
        if not args.json:
            print(f"import deepdiff (fresh interpreter, median of 5): {out['import_deepdiff_s']} s")
    if args.json:
        print(json.dumps(out, indent=2))
    return 0 if all(r["same_items"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
