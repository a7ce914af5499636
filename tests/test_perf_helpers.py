"""The small pieces behind driftd's speed (issue 6) that need no database."""

from __future__ import annotations

import gc
import threading

import pytest

from driftd import canonical
from driftd.collect.postgres import _Acl
from driftd.errors import CollectError

LETTERS = {"r": "SELECT", "w": "UPDATE", "a": "INSERT", "U": "USAGE", "C": "CREATE"}


def test_gc_paused_nests_and_restores() -> None:
    assert gc.isenabled()
    with canonical.gc_paused():
        assert not gc.isenabled()
        with canonical.gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_gc_paused_across_threads_ends_with_the_last_pause() -> None:
    inside, leave = threading.Event(), threading.Event()

    def other() -> None:
        with canonical.gc_paused():
            inside.set()
            leave.wait(5)

    thread = threading.Thread(target=other)
    thread.start()
    inside.wait(5)
    with canonical.gc_paused():
        pass
    assert not gc.isenabled()  # the other thread still builds
    leave.set()
    thread.join()
    assert gc.isenabled()


def test_gc_paused_leaves_a_disabled_collector_disabled() -> None:
    gc.disable()
    try:
        with canonical.gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_gc_paused_collects_during_long_overlapping_pauses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(canonical, "GC_MAX_PAUSE", 0.0)
    collected: list[int] = []
    monkeypatch.setattr(gc, "collect", lambda *a: collected.append(1) or 0)
    with canonical.gc_paused():
        with canonical.gc_paused():
            pass
        assert collected == [1]
    assert gc.isenabled()


def test_acl_items() -> None:
    acl = _Acl(LETTERS)
    assert acl.grants(None) == {} and acl.grants([]) == {}
    assert acl.grants(["app=arw/app", "=r/app", "bob=r*w/app"]) == {
        "app": ["INSERT", "SELECT", "UPDATE"],
        "PUBLIC": ["SELECT"],
        "bob": ["SELECT WITH GRANT OPTION", "UPDATE"],
    }
    # Two grantors: one sorted set. Quoted names, with "" for a quote inside.
    assert acl.grants(['"a b"=r/x', '"a b"=r*a/"y=z"', '"q""t"=U/x', '"=/"=C*/x']) == {
        "a b": ["INSERT", "SELECT", "SELECT WITH GRANT OPTION"],
        'q"t': ["USAGE"],
        "=/": ["CREATE WITH GRANT OPTION"],
    }


def test_acl_item_lists_are_not_shared() -> None:
    acl = _Acl(LETTERS)
    first, second = acl.grants(["bob=r/x"]), acl.grants(["bob=r/x"])
    first["bob"].append("X")
    assert second == {"bob": ["SELECT"]}


def test_unknown_privilege_letter() -> None:
    with pytest.raises(CollectError, match="unknown privilege letter 'Z'"):
        _Acl(LETTERS).grants(["bob=Z/x"])
