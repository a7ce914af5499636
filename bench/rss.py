"""Run a command; write its wall time, peak RSS and exit code as JSON to a file.

    python -S bench/rss.py [--sample SECONDS] RESULT.json CMD [ARG ...]

Linux keeps a process's peak-RSS mark across exec, so a child spawned by the
benchmark runner (~50 MB of Python) would report at least the runner's size.
This wrapper, started with ``-S`` (no site imports, ~8 MB), spawns the command
itself and reports ``wait4``'s ``ru_maxrss`` for exactly that child: exact for
anything larger than the wrapper. Exits with the command's exit code.

With ``--sample``, the child's current RSS (VmRSS) is also read every SECONDS
and written as ``rss_samples`` (``[seconds since start, KiB]``): whether memory
stays flat over a long run (the fleet) or grows with it.
"""

import json
import os
import sys
import threading
import time


def sampler(pid: int, every: float, started: float, out: list, done: threading.Event) -> None:
    while not done.wait(every):
        try:
            with open(f"/proc/{pid}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        out.append([round(time.perf_counter() - started, 2), int(line.split()[1])])
                        break
        except OSError:  # gone (or a zombie: no VmRSS line)
            return


def main() -> int:
    args = sys.argv[1:]
    every = None
    if args[0] == "--sample":
        every, args = float(args[1]), args[2:]
    result, cmd = args[0], args[1:]
    samples: list = []
    done = threading.Event()
    started = time.perf_counter()
    try:
        pid = os.posix_spawnp(cmd[0], cmd, os.environ)
    except OSError as exc:
        print(f"rss.py: cannot run {cmd[0]}: {exc.strerror}", file=sys.stderr)
        rc, maxrss = 127, 0
    else:
        thread = None
        if every:
            thread = threading.Thread(target=sampler, args=(pid, every, started, samples, done))
            thread.start()
        _, status, usage = os.wait4(pid, 0)
        rc, maxrss = os.waitstatus_to_exitcode(status), usage.ru_maxrss
        done.set()
        if thread:
            thread.join()
    wall = time.perf_counter() - started
    out = {"wall_s": round(wall, 4), "maxrss_kib": maxrss, "rc": rc}
    if every:
        out["rss_samples"] = samples
    with open(result, "w") as fh:
        json.dump(out, fh)
    return rc


if __name__ == "__main__":
    sys.exit(main())
