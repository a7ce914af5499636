"""systemd/: the unit passes `systemd-analyze verify`, sysusers and tmpfiles apply cleanly.

Where the systemd tools exist these tests fail on any complaint (verify exits
0 even on unknown keys, so its output must be empty too); they are skipped
only on a machine without them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

SYSTEMD = Path(__file__).resolve().parent.parent / "systemd"
UNIT = SYSTEMD / "driftd.service"


def unit_settings() -> dict[str, list[str]]:
    """``Key`` → values (in order) from the [Service] and [Unit] sections."""
    out: dict[str, list[str]] = defaultdict(list)
    for raw in UNIT.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        out[key.strip()].append(value.strip())
    return out


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed on this machine (systemd tools absent)")
    return path


def test_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    verify = tool("systemd-analyze")
    # verify checks that ExecStart's binary exists: point it at the installed driftd.
    driftd = shutil.which("driftd")
    assert driftd, "the driftd console script is installed (pip install -e .)"
    unit = tmp_path / "driftd.service"
    unit.write_text(UNIT.read_text().replace("/usr/local/bin/driftd", driftd))
    res = subprocess.run(
        [verify, "verify", str(unit)], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "" and res.stderr.strip() == "", res.stderr


def test_verify_catches_a_broken_unit(tmp_path: Path) -> None:
    """The check above can fail: a typo in a key is reported."""
    verify = tool("systemd-analyze")
    unit = tmp_path / "driftd.service"
    unit.write_text(
        UNIT.read_text()
        .replace("/usr/local/bin/driftd", shutil.which("driftd") or "/bin/true")
        .replace("ProtectSystem=strict", "ProtectSytem=strict")
    )
    res = subprocess.run([verify, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert "ProtectSytem" in res.stderr


def test_unit_settings() -> None:
    s = unit_settings()
    assert s["Type"] == ["notify"]
    assert s["NotifyAccess"] == ["main"]
    assert s["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert s["WatchdogSec"] and s["TimeoutStopSec"] == ["30s"]  # > the daemon's 20 s stop bound
    assert s["User"] == ["driftd"] and "DynamicUser" not in s
    assert s["StateDirectory"] == ["driftd"] and s["ConfigurationDirectory"] == ["driftd"]
    assert s["LoadCredential"] == ["driftd:/etc/driftd/credentials"]
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "PrivateTmp": "yes",
        "ProtectHome": "yes",
        "CapabilityBoundingSet": "",
        "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
        "SystemCallArchitectures": "native",
    }.items():
        assert s[key] == [value], key
    assert "@system-service" in s["SystemCallFilter"]
    assert "--config /etc/driftd/config.toml run" in s["ExecStart"][0]


@pytest.mark.skipif(os.geteuid() != 0, reason="creating users and chown need root")
def test_sysusers_and_tmpfiles_apply(tmp_path: Path) -> None:
    sysusers, tmpfiles = tool("systemd-sysusers"), tool("systemd-tmpfiles")
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    res = subprocess.run(
        [sysusers, f"--root={root}", str(SYSTEMD / "driftd.sysusers")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    passwd = (root / "etc" / "passwd").read_text().splitlines()
    (entry,) = [line for line in passwd if line.startswith("driftd:")]
    _, _, uid, gid, _, home, shell = entry.split(":")
    assert home == "/var/lib/driftd" and shell.endswith("nologin")

    res = subprocess.run(
        [tmpfiles, f"--root={root}", "--create", str(SYSTEMD / "driftd.tmpfiles")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    expect = {
        "etc/driftd": (0o750, 0, int(gid)),
        "etc/driftd/credentials": (0o700, 0, 0),
        "var/lib/driftd": (0o770, int(uid), int(gid)),
    }
    for rel, (mode, owner, group) in expect.items():
        st = (root / rel).stat()
        assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (mode, owner, group), rel


def test_readme_shows_the_unit_as_shipped() -> None:
    readme = (SYSTEMD.parent / "README.md").read_text()
    assert f"```ini\n{UNIT.read_text()}```" in readme, (
        "the README's unit differs from systemd/driftd.service: copy the file into the README"
    )
