"""Time from launch to the main window shown: from source and the frozen app.

    .venv/bin/python bench/startup.py                  # both, 7 runs each, offscreen
    .venv/bin/python bench/startup.py --runs 11 --frozen-only
    xvfb-run -a .venv/bin/python bench/startup.py --platform xcb

Each run starts the app with ``DOMAINCHECK_STARTUP_PROBE=1`` (see
``desktop/selftest.py``): when the main window has painted for the first time the app
prints a marker and quits normally. The figure is the wall-clock time from starting
the process to reading that marker, so it includes the interpreter (or the frozen
bootloader unpacking nothing: onedir), imports, the watchlist and the first paint.
One warm-up run per mode is not counted (cold disk cache); the median of the rest is
reported. Every run uses the same throw-away data folders, so no user data is touched
and runs after the first see an existing (empty) watchlist, as a real start does.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FROZEN_APP = ROOT / "dist" / "DomainCheck" / "DomainCheck"
MARKER = "DOMAINCHECK_WINDOW_SHOWN"
TARGET_FROZEN_SECONDS = 1.5
RUN_TIMEOUT_SECONDS = 30


def time_one(command: Sequence[str], env: dict[str, str]) -> float:
    """Seconds from starting ``command`` to its window-shown marker."""
    started = time.monotonic()
    process = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert process.stdout is not None
    shown = None
    try:
        for line in process.stdout:
            if line.startswith(MARKER):
                shown = time.monotonic() - started
                break
        process.wait(RUN_TIMEOUT_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    if shown is None:
        raise RuntimeError(f"{command[0]} exited ({process.returncode}) without showing a window")
    return shown


def bench(label: str, command: Sequence[str], runs: int, platform: str) -> list[float]:
    with tempfile.TemporaryDirectory(prefix="domaincheck-startup-") as home:
        env = dict(os.environ)
        env.update(
            XDG_DATA_HOME=f"{home}/data",
            XDG_CONFIG_HOME=f"{home}/config",
            XDG_CACHE_HOME=f"{home}/cache",
            QT_QPA_PLATFORM=platform,
            DOMAINCHECK_STARTUP_PROBE="1",
            DOMAINCHECK_NO_ANALYTICS="1",
        )
        time_one(command, env)  # warm-up, not counted
        times = [time_one(command, env) for _ in range(runs)]
    print(
        f"{label:<8} median {statistics.median(times):.3f} s   "
        f"min {min(times):.3f} s   max {max(times):.3f} s   ({runs} runs, {platform})"
    )
    return times


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--platform", default="offscreen", help="QT_QPA_PLATFORM (xcb, ...)")
    parser.add_argument("--app", type=Path, default=FROZEN_APP, help="the frozen executable")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--frozen-only", action="store_true")
    which.add_argument("--source-only", action="store_true")
    args = parser.parse_args(argv)

    if not args.frozen_only:
        bench("source", [sys.executable, "-m", "desktop"], args.runs, args.platform)
    if args.source_only:
        return 0
    if not args.app.exists():
        print(f"frozen   skipped: no {args.app} (build it with `make dist`)")
        return 0
    times = bench("frozen", [str(args.app)], args.runs, args.platform)
    median = statistics.median(times)
    verdict = "meets" if median < TARGET_FROZEN_SECONDS else "MISSES"
    print(f"frozen start {verdict} the {TARGET_FROZEN_SECONDS} s target")
    return 0 if median < TARGET_FROZEN_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
