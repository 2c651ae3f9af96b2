#!/bin/sh
# Remove what install.sh put in place: the app, its menu entry and its icons, and
# the start-at-login entry the app wrote, if it starts this install.
# Your watchlist and preferences are kept (they live in ~/.local/share/domaincheck
# and ~/.config/domaincheck); delete those folders yourself to remove them too.
set -eu

app_dir="$HOME/.local/opt/DomainCheck"
data_home="${XDG_DATA_HOME:-$HOME/.local/share}"
apps_dir="$data_home/applications"
icons_dir="$data_home/icons/hicolor"
case "${XDG_CONFIG_HOME:-}" in
    /*) config_home=$XDG_CONFIG_HOME ;;
    *) config_home="$HOME/.config" ;;  # unset, or relative (which the spec ignores)
esac
login_entry="$config_home/autostart/domaincheck.desktop"

# The app writes Exec="<install>/DomainCheck" --background. Another install's entry
# (a different folder) is left alone. The app may have recorded the folder with its
# symbolic links resolved, so both spellings count.
if [ -f "$login_entry" ] && [ -d "$app_dir" ]; then
    resolved_dir=$(cd "$app_dir" && pwd -P)
    if grep -qF "Exec=\"$app_dir/DomainCheck\"" "$login_entry" ||
        grep -qF "Exec=\"$resolved_dir/DomainCheck\"" "$login_entry"; then
        rm -f "$login_entry"
    fi
fi

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
