"""Baselines read a megabyte at a time, and kept compact by a check (issue 15: RSS).

``snapshot.read`` parses the objects of a file laid out as ``dumps_pretty``
writes it in parts; whatever the block size, it gives what parsing the whole
file gives, and a file laid out otherwise is parsed whole. A compact read
keeps each object's canonical bytes; the content hash and the drift items of
a check are the same as with the parsed objects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from driftd import canonical, snapshot
from driftd.check import evaluate
from driftd.diff.filters import IgnoreRule
from driftd.rules import RuleSet


def _document() -> dict[str, Any]:
    objects: dict[str, Any] = {
        'table:public."we,\\n    ird"': {"columns": {"a\n  }": {"type": "text"}}, "x": [1, 2.5]},
        "table:public.empty": {},
        "role:ünïcode": {"config": {"search_path": '"$user", public'}, "login": True},
        "schema:s": {"grants": {"PUBLIC": ["USAGE"]}, "comment": "line\n  }\nend"},
    }
    for i in range(300):
        objects[f"table:public.t{i:03}"] = {
            "columns": {f"c{j}": {"type": "integer", "nullable": j % 2 == 0} for j in range(5)},
            "comment": None if i % 3 else f"table {i}",
        }
    return {
        "accepted": {"objects": ["table:public.t001"], "at": "2026-12-05T00:00:00Z"},
        "engine": {"dialect": "postgresql"},
        "environment": "e",
        "format": snapshot.SNAPSHOT_FORMAT,
        "objects": objects,
        "zzz": {"after": "objects"},
    }


@pytest.mark.parametrize("block", [1, 7, 64, 4096, 1 << 20])
def test_a_pretty_file_reads_as_a_whole_parse_does(
    tmp_path: Path, block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(snapshot, "READ_BLOCK", block)
    doc = _document()
    path = tmp_path / "b.json"
    path.write_bytes(canonical.dumps_pretty(doc))
    read, whole = snapshot.read(path, "baseline"), orjson.loads(path.read_bytes())
    assert read == whole == doc
    assert list(read["objects"]) == list(whole["objects"])  # the file's order
    compact = snapshot.read(path, "baseline", compact=True)
    assert isinstance(compact["objects"], snapshot.CompactObjects)
    assert compact["objects"] == {k: canonical.dumps(v) for k, v in doc["objects"].items()}
    assert snapshot.content_hash(compact) == snapshot.content_hash(doc)


@pytest.mark.parametrize("layout", ["compact", "empty", "broken"])
def test_other_layouts_are_parsed_whole(tmp_path: Path, layout: str) -> None:
    doc = _document()
    if layout == "empty":
        doc["objects"] = {}
    path = tmp_path / "b.json"
    data = canonical.dumps(doc) if layout == "compact" else canonical.dumps_pretty(doc)
    if layout == "broken":  # an object cut short: the whole parse names the error
        data = data.replace(b'"comment": "table 3"', b'"comment": "table 3')
        path.write_bytes(data)
        with pytest.raises(Exception, match="not valid JSON"):
            snapshot.read(path, "baseline")
        return
    path.write_bytes(data)
    assert snapshot.read(path, "baseline") == doc
    compact = snapshot.read(path, "baseline", compact=True)["objects"]
    assert compact == {k: canonical.dumps(v) for k, v in doc["objects"].items()}


def test_a_compact_baseline_gives_the_same_drift(tmp_path: Path) -> None:
    doc = _document()
    path = tmp_path / "b.json"
    path.write_bytes(canonical.dumps_pretty(doc))
    live = orjson.loads(path.read_bytes())
    objects = live["objects"]
    del objects["table:public.t000"]
    objects["table:public.new"] = {"columns": {}}
    objects["table:public.t001"]["columns"]["c1"]["type"] = "bigint"
    objects["table:public.t002"]["comment"] = "changed"  # hidden by the ignore rule
    objects["schema:s"]["grants"]["PUBLIC"] = ["CREATE", "USAGE"]
    ignore = [IgnoreRule.parse("table:public.t002#comment")]
    rules = RuleSet()
    results = []
    for compact in (False, True):
        baseline = snapshot.read(path, "baseline", compact=compact)
        hidden: list[str] = []
        items = evaluate("e", baseline, live, rules, ignore, hidden)
        results.append(([i.to_json() for i in items], hidden))
    assert results[0] == results[1]
    assert len(results[0][0]) == 4 and results[0][1] == ["table:public.t002"]
