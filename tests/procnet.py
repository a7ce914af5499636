"""Which TCP connections a process holds, read from /proc (Linux): the daemon tests
and bench/fleet.py tell a daemon's connections from everyone else's in
pg_stat_activity by the client port."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def local_ports(pid: int) -> set[int]:
    """Local TCP ports of the sockets ``pid`` has open (its side of each connection)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):  # closed meanwhile
            link = os.readlink(fd)
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            cols = line.split()
            if cols[9] in inodes:
                ports.add(int(cols[1].rsplit(":", 1)[1], 16))
    return ports
