"""``--self-test``, ``--version`` and the startup probe, run from source.

The frozen binary runs the same code in ``packaging/ci-build.sh``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import core
from desktop import selftest
from tests.packaging.conftest import ROOT


def app_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DOMAINCHECK_", "XDG_", "QT_QPA"))
    }
    env.update(
        XDG_DATA_HOME=str(tmp_path / "data"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        DOMAINCHECK_NO_ANALYTICS="1",
        **extra,
    )
    return env


def run_app(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "desktop", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


@pytest.mark.slow
def test_self_test_passes_from_source(tmp_path: Path) -> None:
    # No QT_QPA_PLATFORM and no display: the self-test goes offscreen by itself.
    env = app_env(tmp_path)
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    result = run_app(["--self-test"], env)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "(source," in out
    for line in (
        "ok   resources:",
        "ok   certifi CA bundle:",
        "ok   OpenSSL:",
        "ok   Qt TLS:",
        "ok   main window:",
        "ok   engine:",
        "analytics:",
        "keyring:",
    ):
        assert line in out, out
    assert "valid.test valid, expiring.test expiring, expired.test expired" in out
    assert "self-test passed" in out
    assert not (tmp_path / "data").exists()  # user folders untouched: it used its own


def test_version_needs_no_display(tmp_path: Path) -> None:
    env = app_env(tmp_path)
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    result = run_app(["--version"], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"Domain Check {core.__version__}"


@pytest.mark.slow
def test_startup_probe_reports_the_window_and_quits(tmp_path: Path) -> None:
    env = app_env(tmp_path, QT_QPA_PLATFORM="offscreen", DOMAINCHECK_STARTUP_PROBE="1")
    result = run_app([], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(selftest.WINDOW_SHOWN_MARKER)


def test_other_arguments_start_the_app_normally() -> None:
    assert selftest.early_exit(["list.txt"]) is None


def test_failed_required_check_fails_the_run() -> None:
    outcomes = [selftest.Outcome("a", True, ""), selftest.Outcome("b", False, "", optional=True)]
    assert all(o.ok or o.optional for o in outcomes)
    report = selftest._run_step(_broken_check)
    assert not report.ok and not report.optional
    assert report.name == "broken" and "RuntimeError: boom" in report.detail


def _check_broken() -> selftest.Outcome:
    raise RuntimeError("boom")


_broken_check = _check_broken


def test_the_resources_check_reports_a_bundled_bootstrap_or_its_absence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A source checkout has no copy of IANA's file (fetched on first use); a build
    may bundle one from ../shared/data/, which must then parse."""
    from core import paths
    from tests.helpers.rdap_server import write_bootstrap

    outcome = selftest._check_resources()
    assert outcome.ok
    assert "no bundled RDAP bootstrap: fetched on first use" in outcome.detail

    bundled = write_bootstrap(tmp_path / "iana-rdap-dns.json", {"com": "https://rdap.test/"})
    real_resource = paths.resource
    monkeypatch.setattr(
        paths,
        "resource",
        lambda name: bundled if name == bundled.name else real_resource(name),
    )
    outcome = selftest._check_resources()
    assert "RDAP bootstrap: 1 TLDs" in outcome.detail
