#!/usr/bin/env bash
# CI step "package": build the release bundle and prove the frozen app works.
#   1. PyInstaller build + the Linux .tar.gz (packaging/build.py fails over the size budget)
#   2. the frozen --version and --self-test, with no display
#   3. install.sh -> self-test of the installed copy -> uninstall.sh, in a throw-away HOME
#   4. startup time of the frozen app (reported, not enforced: CI machines vary)
# Takes about 1.5-2 minutes on a warm machine, most of it in PyInstaller.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}

"$PY" -c "import PyInstaller" 2>/dev/null || "$PY" -m pip install --quiet "pyinstaller>=6.10,<7"

echo "== build"
"$PY" packaging/build.py

app=dist/DomainCheck/DomainCheck
headless=(env -u DISPLAY -u WAYLAND_DISPLAY -u QT_QPA_PLATFORM)
echo "== frozen --version"
"${headless[@]}" "$app" --version
echo "== frozen --self-test"
"${headless[@]}" "$app" --self-test

echo "== install.sh / uninstall.sh with the real tarball"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir "$scratch/home"
tar -xzf dist/DomainCheck-*-linux-*.tar.gz -C "$scratch"
in_home=(env HOME="$scratch/home" XDG_DATA_HOME= XDG_CONFIG_HOME= XDG_CACHE_HOME=)
"${in_home[@]}" sh "$scratch"/DomainCheck-*/install.sh
test -f "$scratch/home/.local/share/applications/domaincheck.desktop"
test -f "$scratch/home/.local/share/icons/hicolor/256x256/apps/domaincheck.png"
"${in_home[@]}" "${headless[@]}" "$scratch/home/.local/opt/DomainCheck/DomainCheck" --self-test \
    | tail -n 1
"${in_home[@]}" sh "$scratch/home/.local/opt/DomainCheck/uninstall.sh"
test ! -e "$scratch/home/.local/opt/DomainCheck"

echo "== startup"
"$PY" bench/startup.py --frozen-only --runs 5 || echo "warning: frozen start-up is over target"
