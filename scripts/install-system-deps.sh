#!/usr/bin/env bash
# Install the Debian packages the app and the test suite need, if any are missing:
# Qt's runtime libraries (xcb platform), Xvfb for screenshots of the real window,
# and PostgreSQL for the backend's storage tests. Idempotent; quick when all present.
#
# Another package manager at work (unattended-upgrades at boot, a software centre)
# holds the dpkg/apt locks; instead of failing, wait for it, at most
# DOMAINCHECK_APT_LOCK_TIMEOUT seconds (default 300), saying so once.
set -euo pipefail

lock_timeout=${DOMAINCHECK_APT_LOCK_TIMEOUT:-300}
poll_seconds=${DOMAINCHECK_APT_LOCK_POLL:-2}
lock_files=(/var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock
  /var/cache/apt/archives/lock)

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

# Seconds left of the lock budget, after waiting while a lock file is in use.
# fuser (psmisc) tells whether a process has the file open; without it, apt-get's
# own DPkg::Lock::Timeout does the waiting.
started=$SECONDS
wait_for_locks() {
  command -v fuser >/dev/null 2>&1 || return 0
  local told=""
  while $sudo fuser "${lock_files[@]}" >/dev/null 2>&1; do
    if [ $((SECONDS - started)) -ge "$lock_timeout" ]; then
      echo "install-system-deps: another package manager still holds the dpkg/apt lock" \
        "after ${lock_timeout}s; let it finish (or stop it) and run this again" >&2
      return 1
    fi
    if [ -z "$told" ]; then
      echo "install-system-deps: another package manager is running (apt, dpkg or" \
        "unattended-upgrades); waiting for it to finish, at most ${lock_timeout}s..." >&2
      told=1
    fi
    sleep "$poll_seconds"
  done
}
remaining() {
  local left=$((lock_timeout - (SECONDS - started)))
  echo $((left > 0 ? left : 0))
}

echo "install-system-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
wait_for_locks
$sudo apt-get -o DPkg::Lock::Timeout="$(remaining)" update -qq
wait_for_locks
$sudo apt-get -o DPkg::Lock::Timeout="$(remaining)" install -y -qq --no-install-recommends \
  "${missing[@]}" >/dev/null
