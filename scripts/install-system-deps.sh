#!/usr/bin/env bash
# Install the Debian packages the app and the test suite need, if any are missing:
# Qt's runtime libraries (xcb platform), Xvfb for screenshots of the real window,
# and PostgreSQL for the backend's storage tests. Idempotent; quick when all present.
set -euo pipefail

# Usage: install-system-deps.sh [run|test]   (default: test, which includes run)
group=${1:-test}
packages=(
  # Qt 6 (PySide6-Essentials) runtime, xcb and offscreen platforms
  libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 libglib2.0-0
  libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0
  libxcb-shape0 libxcb-randr0 libxcb-xinerama0 libxcb-xkb1 fonts-dejavu-core
)
[ "$group" = run ] || packages+=(
  # a real X server for screenshots and tray tests
  xvfb xauth
  # validates the .desktop launcher in tests/packaging
  desktop-file-utils
  # the backend's storage tests run on a real PostgreSQL
  postgresql
)

missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-system-deps: not a Debian/Ubuntu system; please install: ${missing[*]}" >&2
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "install-system-deps: need root to install: ${missing[*]}" >&2; exit 1
  fi
fi
echo "install-system-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
