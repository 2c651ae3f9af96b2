#!/bin/sh
# Install Domain Check for the current user, without root:
#   the app          -> ~/.local/opt/DomainCheck/
#   the menu entry   -> ~/.local/share/applications/domaincheck.desktop
#   the icons        -> ~/.local/share/icons/hicolor/<size>/apps/domaincheck.png
# Run it from the unpacked release folder. Running it again upgrades in place.
# Remove everything with ~/.local/opt/DomainCheck/uninstall.sh (your watchlist stays).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
bundle="$here/DomainCheck"
opt_dir="$HOME/.local/opt"
app_dir="$opt_dir/DomainCheck"
data_home="${XDG_DATA_HOME:-$HOME/.local/share}"
apps_dir="$data_home/applications"
icons_dir="$data_home/icons/hicolor"

if [ ! -x "$bundle/DomainCheck" ]; then
    echo "install.sh: no app at $bundle/DomainCheck; run me from the unpacked release folder" >&2
    exit 1
fi

# Copy next to the destination first, then swap, so an interrupted install never
# leaves a half-copied app behind.
mkdir -p "$opt_dir"
staging="$opt_dir/.DomainCheck.installing.$$"
trap 'rm -rf "$staging"' EXIT INT TERM
rm -rf "$staging"
cp -a "$bundle" "$staging"
cp "$here/uninstall.sh" "$staging/uninstall.sh"
chmod 755 "$staging/uninstall.sh"
rm -rf "$app_dir"
mv "$staging" "$app_dir"
trap - EXIT INT TERM

# The menu entry: absolute path to the installed executable (quoted for the spec).
mkdir -p "$apps_dir"
sed -e "s|^Exec=.*|Exec=\"$app_dir/DomainCheck\" %F|" \
    -e "s|^TryExec=.*||" \
    "$app_dir/share/applications/domaincheck.desktop" > "$apps_dir/domaincheck.desktop.tmp"
printf 'TryExec=%s\n' "$app_dir/DomainCheck" >> "$apps_dir/domaincheck.desktop.tmp"
mv "$apps_dir/domaincheck.desktop.tmp" "$apps_dir/domaincheck.desktop"

for source in "$app_dir"/share/icons/hicolor/*/apps/domaincheck.*; do
    size_dir=$(basename "$(dirname "$(dirname "$source")")")
    mkdir -p "$icons_dir/$size_dir/apps"
    cp "$source" "$icons_dir/$size_dir/apps/"
done

# Refresh the menu and icon caches where the tools exist (harmless where they don't).
if command -v update-desktop-database >/dev/null 2>&1; then
    update-desktop-database "$apps_dir" >/dev/null 2>&1 || true
fi
if command -v gtk-update-icon-cache >/dev/null 2>&1; then
    touch "$icons_dir" 2>/dev/null || true
    gtk-update-icon-cache -q -t "$icons_dir" >/dev/null 2>&1 || true
fi

echo "Domain Check is installed in $app_dir"
echo "Start it from your applications menu, or run: \"$app_dir/DomainCheck\""
echo "To remove it: \"$app_dir/uninstall.sh\""
