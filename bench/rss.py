"""Run a command; write its wall time, peak RSS and exit code as JSON to a file.

    python -S bench/rss.py RESULT.json CMD [ARG ...]

Linux keeps a process's peak-RSS mark across exec, so a child spawned by the
benchmark runner (~50 MB of Python) would report at least the runner's size.
This wrapper, started with ``-S`` (no site imports, ~8 MB), spawns the command
itself and reports ``wait4``'s ``ru_maxrss`` for exactly that child: exact for
anything larger than the wrapper. Exits with the command's exit code.
"""

import json
import os
import sys
import time


def main() -> int:
    result, cmd = sys.argv[1], sys.argv[2:]
    started = time.perf_counter()
    try:
        pid = os.posix_spawnp(cmd[0], cmd, os.environ)
    except OSError as exc:
        print(f"rss.py: cannot run {cmd[0]}: {exc.strerror}", file=sys.stderr)
        rc, maxrss = 127, 0
    else:
        _, status, usage = os.wait4(pid, 0)
        rc, maxrss = os.waitstatus_to_exitcode(status), usage.ru_maxrss
    wall = time.perf_counter() - started
    with open(result, "w") as fh:
        json.dump({"wall_s": round(wall, 4), "maxrss_kib": maxrss, "rc": rc}, fh)
    return rc


if __name__ == "__main__":
    sys.exit(main())
