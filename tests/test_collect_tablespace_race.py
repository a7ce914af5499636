"""A tablespace dropped while the catalog is read (issue 17's "a bad day"): the catalog
snapshot still lists it, pg_tablespace_location() finds its directory gone (SQLSTATE
58P01). The collector reads again; while the directory stays gone, the check fails with
a one-line reason, never an internal error. On a private cluster: the test removes the
tablespace's link under pg_tblspc itself, which no shared server may see."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from driftd.collect import Target
from driftd.collect.postgres import collect
from driftd.errors import CollectError
from tests.private_pg import PrivateCluster, as_postgres, private_cluster

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivateCluster]:
    with private_cluster() as c:
        yield c


def test_a_vanished_tablespace_is_a_clear_error_then_read_again(cluster: PrivateCluster) -> None:
    location = Path(tempfile.mkdtemp(prefix="driftd-ts-"))
    shutil.chown(location, "postgres", "postgres")
    try:
        with cluster.connect() as admin:
            admin.execute(f"CREATE TABLESPACE ts_race LOCATION '{location}'")  # type: ignore[arg-type]
            oid = admin.execute(
                "SELECT oid FROM pg_tablespace WHERE spcname = 'ts_race'"
            ).fetchone()
        assert oid is not None
        data = Path(cluster.root) / "data"
        link = data / "pg_tblspc" / str(oid[0])
        target = Target(environment="race", url=cluster.url())
        assert "tablespace:ts_race" in collect(target).objects
        moved = link.with_name(link.name + ".away")
        assert as_postgres("mv", str(link), str(moved)).returncode == 0
        try:
            with pytest.raises(CollectError) as err:
                collect(target)
            assert "tablespace was dropped while it was read" in err.value.message
        finally:
            assert as_postgres("mv", str(moved), str(link)).returncode == 0
        assert "tablespace:ts_race" in collect(target).objects  # read again: fine
    finally:
        with cluster.connect() as admin:
            admin.execute("DROP TABLESPACE IF EXISTS ts_race")
        shutil.rmtree(location, ignore_errors=True)
