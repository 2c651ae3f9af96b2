#!/bin/sh
# Remove what install.sh put in place: the app, its menu entry and its icons.
# Your watchlist and preferences are kept (they live in ~/.local/share/domaincheck
# and ~/.config/domaincheck); delete those folders yourself to remove them too.
set -eu

app_dir="$HOME/.local/opt/DomainCheck"
data_home="${XDG_DATA_HOME:-$HOME/.local/share}"
apps_dir="$data_home/applications"
icons_dir="$data_home/icons/hicolor"

rm -f "$apps_dir/domaincheck.desktop"
for icon in "$icons_dir"/*/apps/domaincheck.png "$icons_dir"/*/apps/domaincheck.svg; do
    [ -e "$icon" ] && rm -f "$icon"
done
rm -rf "$app_dir"
rmdir "$HOME/.local/opt" 2>/dev/null || true

if command -v update-desktop-database >/dev/null 2>&1; then
    update-desktop-database "$apps_dir" >/dev/null 2>&1 || true
fi
if command -v gtk-update-icon-cache >/dev/null 2>&1 && [ -d "$icons_dir" ]; then
    gtk-update-icon-cache -q -t "$icons_dir" >/dev/null 2>&1 || true
fi

echo "Domain Check has been removed (your watchlist and preferences were kept)."
