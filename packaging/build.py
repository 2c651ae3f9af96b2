"""Build the desktop app with PyInstaller, and on Linux the release ``.tar.gz``.

    .venv/bin/python packaging/build.py            # dist/DomainCheck/ (+ .tar.gz on Linux)

Release builds bake analytics and the backend URL in: when ``POSTHOG_API_KEY``,
``POSTHOG_HOST`` or ``BACKEND_URL`` is set in the environment, this writes the
git-ignored ``core/_build_config.py`` for the duration of the build (``build.spec``
includes it) and deletes it afterwards, also when the build fails. Keys never go
into the repository.

On Linux the artifact is ``dist/DomainCheck-<version>-linux-<arch>.tar.gz``: one
folder holding the app (``DomainCheck/``), ``install.sh``, ``uninstall.sh`` and a
short README. The sizes are printed and checked against the budget.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP_NAME = "DomainCheck"
BUILD_CONFIG = ROOT / "core" / "_build_config.py"
#: Environment variables baked into ``core/_build_config.py`` (names kept as is).
BUILD_CONFIG_VARIABLES = ("POSTHOG_API_KEY", "POSTHOG_HOST", "BACKEND_URL")
ONEDIR_BUDGET_MB = 150
TARBALL_BUDGET_MB = 65
README_TEXT = """Domain Check {version} for Linux ({arch})

Install for your user (no root needed):   ./install.sh
  puts the app in ~/.local/opt/DomainCheck and adds "Domain Check" to the
  applications menu. Remove it again with:  ~/.local/opt/DomainCheck/uninstall.sh

Or run it in place without installing:     ./DomainCheck/DomainCheck
Check that this build works on your system: ./DomainCheck/DomainCheck --self-test
"""


def say(line: str) -> None:
    """Progress for the person running the build (this is a command-line tool)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def version() -> str:
    text = (ROOT / "core" / "__init__.py").read_text()
    match = re.search(r'^__version__ = "([^"]+)"', text, re.MULTILINE)
    if match is None:
        raise SystemExit("no __version__ in core/__init__.py")
    return match.group(1)


def build_config_source(env: Mapping[str, str]) -> str | None:
    """The text of ``core/_build_config.py`` for ``env``; ``None`` when nothing is set."""
    values = {name: env.get(name, "").strip() for name in BUILD_CONFIG_VARIABLES}
    if not any(values.values()):
        return None
    lines = ['"""Written by packaging/build.py for one build; never commit this file."""', ""]
    lines += [f"{name} = {value!r}" for name, value in values.items() if value]
    return "\n".join(lines) + "\n"


def tarball_name(version_: str, arch: str | None = None) -> str:
    return f"{APP_NAME}-{version_}-linux-{arch or platform.machine()}.tar.gz"


def tree_size_bytes(path: Path) -> int:
    """Bytes in regular files under ``path`` (symlinks counted once, as links)."""
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def make_tarball(bundle: Path, destination: Path, version_: str) -> Path:
    """``destination`` with one top folder: the bundle, install.sh, uninstall.sh, README."""
    top = destination.name.removesuffix(".tar.gz")
    arch = top.rsplit("-", 1)[-1]

    def normalise(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        return info

    staging = destination.parent / f".{top}-extras"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        for script in ("install.sh", "uninstall.sh"):
            shutil.copy2(ROOT / "packaging" / script, staging / script)
            (staging / script).chmod(0o755)
        (staging / "README.txt").write_text(README_TEXT.format(version=version_, arch=arch))
        partial = destination.with_suffix(".partial")
        with tarfile.open(partial, "w:gz", compresslevel=9) as tar:
            for extra in ("install.sh", "uninstall.sh", "README.txt"):
                tar.add(staging / extra, f"{top}/{extra}", filter=normalise)
            tar.add(bundle, f"{top}/{APP_NAME}", filter=normalise)
        partial.replace(destination)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return destination


def run_pyinstaller(dist: Path, work: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "PyInstaller",
        "--noconfirm",
        "--log-level",
        "WARN",
        "--distpath",
        str(dist),
        "--workpath",
        str(work),
        str(ROOT / "build.spec"),
    ]
    subprocess.run(command, cwd=ROOT, check=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="output folder")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "pyinstaller")
    parser.add_argument("--no-tarball", action="store_true", help="skip the Linux .tar.gz")
    args = parser.parse_args(argv)

    source = build_config_source(os.environ)
    if BUILD_CONFIG.exists():
        sys.stderr.write(f"removing a stale {BUILD_CONFIG.relative_to(ROOT)}\n")
        BUILD_CONFIG.unlink()
    started = time.monotonic()
    try:
        if source is not None:
            BUILD_CONFIG.write_text(source)
            baked = [n for n in BUILD_CONFIG_VARIABLES if os.environ.get(n, "").strip()]
            say(f"baking in {', '.join(baked)} (core/_build_config.py, deleted after)")
        else:
            say("no POSTHOG_API_KEY/POSTHOG_HOST/BACKEND_URL: analytics off in this build")
        run_pyinstaller(args.dist, args.work)
    finally:
        BUILD_CONFIG.unlink(missing_ok=True)
    say(f"PyInstaller took {time.monotonic() - started:.0f} s")

    bundle = args.dist / APP_NAME
    onedir_mb = tree_size_bytes(bundle) / 1e6
    over = onedir_mb > ONEDIR_BUDGET_MB
    say(f"onedir {bundle}: {onedir_mb:.1f} MB (budget {ONEDIR_BUDGET_MB} MB)")
    if sys.platform.startswith("linux") and not args.no_tarball:
        tarball = make_tarball(bundle, args.dist / tarball_name(version()), version())
        tar_mb = tarball.stat().st_size / 1e6
        over = over or tar_mb > TARBALL_BUDGET_MB
        say(f"tarball {tarball}: {tar_mb:.1f} MB (budget {TARBALL_BUDGET_MB} MB)")
    if over:
        say("OVER BUDGET")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
