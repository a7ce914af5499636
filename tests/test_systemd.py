"""systemd/: the unit passes `systemd-analyze verify` and `security`, sysusers and
tmpfiles apply cleanly.

Where the systemd tools exist these tests fail on any complaint (verify exits
0 even on unknown keys, so its output must be empty too); they are skipped
only on a machine without them. The unit is `Type=notify` (every systemd in
use knows it); the `notify-reload` drop-in is for systemd 253 and later, and
on an older one the single complaint allowed is that it does not know the type.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

SYSTEMD = Path(__file__).resolve().parent.parent / "systemd"
DRIFTD = f"{sys.executable} -m driftd"  # the driftd under test, whatever is on PATH
UNIT = SYSTEMD / "driftd.service"
DROPIN = SYSTEMD / "driftd.service.d" / "notify-reload.conf"
# What systemd < 253 says about the drop-in's Type= (it keeps the unit's).
OLD_SYSTEMD_TYPE = "Failed to parse service type, ignoring: notify-reload"


def unit_settings(path: Path = UNIT) -> dict[str, list[str]]:
    """``Key`` → values (in order) from the [Service] and [Unit] sections."""
    out: dict[str, list[str]] = defaultdict(list)
    for raw in path.read_text().splitlines():
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


def systemd_version(analyze: str) -> int:
    out = subprocess.run([analyze, "--version"], capture_output=True, text=True, timeout=30)
    match = re.match(r"systemd (\d+)", out.stdout)
    assert match, out.stdout
    return int(match[1])


def installed_unit(tmp_path: Path, dropin: bool) -> Path:
    """The unit as installed (ExecStart= the real driftd), with the drop-in or not."""
    # verify checks that ExecStart's binary exists: run this interpreter's driftd.
    unit = tmp_path / "driftd.service"
    unit.write_text(UNIT.read_text().replace("/usr/local/bin/driftd", DRIFTD))
    if dropin:
        (tmp_path / "driftd.service.d").mkdir()
        shutil.copy(DROPIN, tmp_path / "driftd.service.d" / DROPIN.name)
    return unit


def complaints(analyze: str, unit: Path) -> list[str]:
    res = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60, cwd=unit.parent
    )
    assert res.returncode == 0, res.stderr
    lines = (res.stdout + res.stderr).splitlines()
    return [line.split(": ", 1)[-1] for line in lines if line.strip()]


@pytest.mark.parametrize("dropin", [False, True], ids=["unit", "unit+notify-reload"])
def test_unit_passes_systemd_analyze_verify(tmp_path: Path, dropin: bool) -> None:
    analyze = tool("systemd-analyze")
    allowed = [OLD_SYSTEMD_TYPE] if dropin and systemd_version(analyze) < 253 else []
    assert complaints(analyze, installed_unit(tmp_path, dropin)) == allowed


def test_verify_reads_the_drop_in(tmp_path: Path) -> None:
    """The drop-in test above means something: verify loads it and reports its typos."""
    analyze = tool("systemd-analyze")
    unit = installed_unit(tmp_path, dropin=True)
    conf = unit.parent / "driftd.service.d" / DROPIN.name
    conf.write_text(conf.read_text().replace("\nExecReload=", "\nExecReloadd="))
    assert any("ExecReloadd" in line for line in complaints(analyze, unit))


def test_security_exposure_at_most_2(tmp_path: Path) -> None:
    analyze = tool("systemd-analyze")
    unit = installed_unit(tmp_path, dropin=False)
    res = subprocess.run(
        [analyze, "security", "--offline=yes", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    match = re.search(r"Overall exposure level for driftd\.service: (\d+\.\d+)", res.stdout)
    assert match, res.stdout + res.stderr
    assert float(match[1]) <= 2.0, res.stdout


def test_verify_catches_a_broken_unit(tmp_path: Path) -> None:
    """The check above can fail: a typo in a key is reported."""
    verify = tool("systemd-analyze")
    unit = tmp_path / "driftd.service"
    unit.write_text(
        UNIT.read_text()
        .replace("/usr/local/bin/driftd", DRIFTD)
        .replace("ProtectSystem=strict", "ProtectSytem=strict")
    )
    res = subprocess.run([verify, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert "ProtectSytem" in res.stderr


def test_unit_settings() -> None:
    s = unit_settings()
    # Type=notify everywhere (systemd 252 on RHEL 9 does not know notify-reload).
    assert s["Type"] == ["notify"] and s["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert s["NotifyAccess"] == ["main"]
    assert s["WatchdogSec"] and s["TimeoutStopSec"] == ["30s"]  # > the daemon's 20 s stop bound
    assert s["RestartPreventExitStatus"] == ["2"]  # a bad config must not restart-loop
    assert s["Documentation"] and all(
        re.match(r"(https?|file|man|info):", uri) for uri in s["Documentation"][0].split()
    )
    assert s["User"] == ["driftd"] and "DynamicUser" not in s
    assert s["StateDirectory"] == ["driftd"] and s["ConfigurationDirectory"] == ["driftd"]
    assert s["ConfigurationDirectoryMode"] == ["0750"]
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


def test_notify_reload_drop_in_for_systemd_253() -> None:
    # systemd sends SIGHUP itself: the unit's ExecReload= is reset, never sent twice.
    s = unit_settings(DROPIN)
    assert s == {"Type": ["notify-reload"], "ExecReload": [""]}


def test_credential_examples_use_the_names_load_credential_gives() -> None:
    """LoadCredential=driftd:<directory> names each file driftd_<file>: every example says so."""
    root = SYSTEMD.parent
    deployment = root / "docs" / "deployment.md"
    docs = [UNIT, root / "README.md", root / "config.example.toml", *(root / "docs").glob("*.md")]
    texts = {p: p.read_text() for p in docs}
    for path, text in texts.items():
        for name in set(re.findall(r"\$\{?CREDENTIALS_DIRECTORY\}?/([\w.-]+)", text)):
            assert name.startswith("driftd_"), f"{path.name}: {name}"
    # The file the install steps write is the one their config example reads.
    steps = texts[deployment]
    assert "/etc/driftd/credentials/prod-db" in steps and "driftd_prod-db" in steps


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


def test_the_docs_show_the_unit_as_shipped() -> None:
    doc = (SYSTEMD.parent / "docs" / "deployment.md").read_text()
    for path in (UNIT, DROPIN):
        assert f"```ini\n{path.read_text()}```" in doc, (
            f"docs/deployment.md's copy differs from {path.name}: copy the file into it"
        )
