"""``scripts/install-system-deps.sh`` waits for a busy dpkg/apt lock instead of failing.

The script runs against fake ``dpkg-query``, ``apt-get``, ``id`` and ``fuser``
commands (nothing is installed): ``fuser`` says "in use" for a given number of calls,
``apt-get`` only writes down how it was called.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "install-system-deps.sh"
BASH = shutil.which("bash")

pytestmark = pytest.mark.skipif(BASH is None, reason="needs bash")


def fake_bin(tmp_path: Path, *, busy_calls: int | None) -> Path:
    """Fake system commands; ``busy_calls=None`` means there is no ``fuser`` at all."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("grep", "sleep"):
        real = shutil.which(tool)
        assert real is not None
        (bin_dir / tool).symlink_to(real)
    scripts = {
        "dpkg-query": "exit 1\n",  # nothing is installed
        "id": "echo 0\n",  # root: no sudo
        "apt-get": f'echo "$*" >> "{tmp_path}/apt-get.log"\n',
    }
    if busy_calls is not None:
        scripts["fuser"] = (
            f'count_file="{tmp_path}/fuser.count"\n'
            "count=0\n"
            '[ -f "$count_file" ] && read -r count < "$count_file"\n'
            'echo $((count + 1)) > "$count_file"\n'
            f'[ "$count" -lt {busy_calls} ]\n'  # exit 0 = a process uses the lock
        )
    for name, body in scripts.items():
        path = bin_dir / name
        path.write_text("#!/bin/sh\n" + body)
        path.chmod(0o755)
    return bin_dir


def run_script(tmp_path: Path, bin_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    assert BASH is not None
    environment = {"PATH": str(bin_dir), "HOME": str(tmp_path), **env}
    return subprocess.run(
        [BASH, str(SCRIPT), "run"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def apt_calls(tmp_path: Path) -> list[str]:
    log = tmp_path / "apt-get.log"
    return log.read_text().splitlines() if log.exists() else []


def test_waits_for_the_lock_then_installs(tmp_path: Path) -> None:
    bin_dir = fake_bin(tmp_path, busy_calls=3)
    result = run_script(
        tmp_path, bin_dir, DOMAINCHECK_APT_LOCK_TIMEOUT="30", DOMAINCHECK_APT_LOCK_POLL="0"
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("another package manager is running") == 1
    calls = apt_calls(tmp_path)
    assert len(calls) == 2
    assert calls[0].startswith("-o DPkg::Lock::Timeout=") and calls[0].endswith(" update -qq")
    assert " install -y -qq --no-install-recommends " in calls[1] and "libegl1" in calls[1]
    # apt-get itself waits for what remains of the budget.
    assert 0 < int(calls[0].split("=")[1].split()[0]) <= 30
    assert int((tmp_path / "fuser.count").read_text()) >= 4


def test_gives_up_with_a_clear_message_when_the_lock_stays_busy(tmp_path: Path) -> None:
    bin_dir = fake_bin(tmp_path, busy_calls=10**6)
    result = run_script(
        tmp_path, bin_dir, DOMAINCHECK_APT_LOCK_TIMEOUT="0", DOMAINCHECK_APT_LOCK_POLL="0"
    )
    assert result.returncode == 1
    assert "still holds the dpkg/apt lock" in result.stderr
    assert "run this again" in result.stderr
    assert apt_calls(tmp_path) == []  # never ran into the lock


def test_without_fuser_apt_get_does_the_waiting(tmp_path: Path) -> None:
    bin_dir = fake_bin(tmp_path, busy_calls=None)
    result = run_script(tmp_path, bin_dir)
    assert result.returncode == 0, result.stderr
    assert "another package manager" not in result.stderr
    calls = apt_calls(tmp_path)
    assert [call.split()[:2] for call in calls] == [["-o", "DPkg::Lock::Timeout=300"]] * 2


def test_nothing_to_do_when_everything_is_installed(tmp_path: Path) -> None:
    bin_dir = fake_bin(tmp_path, busy_calls=10**6)
    (bin_dir / "dpkg-query").write_text("#!/bin/sh\necho 'install ok installed'\n")
    result = run_script(tmp_path, bin_dir, DOMAINCHECK_APT_LOCK_TIMEOUT="0")
    assert result.returncode == 0, result.stderr
    assert apt_calls(tmp_path) == [] and not (tmp_path / "fuser.count").exists()


def test_the_script_is_executable() -> None:
    assert os.access(SCRIPT, os.X_OK)
