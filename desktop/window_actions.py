"""The main window's actions and menus, built in one place.

Kept out of ``mainwindow`` so that module stays about what the window shows and
signals; this one says which commands exist, their shortcuts and where they sit in
the menu bar. Undo, Copy and Delete act on the table only: in the text box, Ctrl+Z
undoes typing and Delete deletes characters.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QStyle, QWidget

Shortcut = QKeySequence | QKeySequence.StandardKey | str | None


@dataclasses.dataclass(frozen=True, slots=True)
class WindowSlots:
    """What each command does (the window's slots and signals)."""

    open_list: Callable[[], object]
    export: Callable[[], object]
    reminders: Callable[[], object]
    preferences: Callable[[], object]
    quit: Callable[[], object]
    check: Callable[[], object]
    cancel: Callable[[], object]
    copy: Callable[[], object]
    undo: Callable[[], object]
    find: Callable[[], object]


@dataclasses.dataclass(frozen=True, slots=True)
class WindowActions:
    """The window's commands; ``remove`` is the table's own."""

    open_list: QAction
    export: QAction
    reminders: QAction
    preferences: QAction
    quit: QAction
    check: QAction
    cancel: QAction
    copy: QAction
    undo: QAction
    find: QAction


def build_actions(window: QMainWindow, table: QWidget, slots: WindowSlots) -> WindowActions:
    """Make the commands, with shortcuts and icons, owned by ``window``."""
    style = window.style()
    sp = QStyle.StandardPixmap

    def action(
        text: str,
        shortcut: Shortcut,
        slot: Callable[[], object],
        icon: QStyle.StandardPixmap | None = None,
    ) -> QAction:
        act = QAction(text, window)
        if shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
        if icon is not None:
            act.setIcon(style.standardIcon(icon))
        act.triggered.connect(slot)
        window.addAction(act)
        return act

    preferences = action("&Preferences…", QKeySequence.StandardKey.Preferences, slots.preferences)
    if preferences.shortcut().isEmpty():
        preferences.setShortcut(QKeySequence("Ctrl+,"))
    check = action("&Check Now", "Ctrl+Return", slots.check, sp.SP_BrowserReload)
    check.setShortcuts([QKeySequence("Ctrl+Return"), QKeySequence("Ctrl+Enter")])
    copy = action("&Copy Rows", QKeySequence.StandardKey.Copy, slots.copy)
    copy.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
    table.addAction(copy)
    undo = QAction("&Undo Remove", window)
    undo.setShortcut(QKeySequence.StandardKey.Undo)
    undo.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
    undo.triggered.connect(slots.undo)
    table.addAction(undo)
    return WindowActions(
        open_list=action(
            "&Open List…", QKeySequence.StandardKey.Open, slots.open_list, sp.SP_DialogOpenButton
        ),
        export=action("&Export Shown Results…", "Ctrl+E", slots.export, sp.SP_DialogSaveButton),
        reminders=action("Email &Reminders…", None, slots.reminders, sp.SP_MessageBoxInformation),
        preferences=preferences,
        quit=action("&Quit", QKeySequence.StandardKey.Quit, slots.quit),
        check=check,
        cancel=action("C&ancel Check", "Esc", slots.cancel, sp.SP_BrowserStop),
        copy=copy,
        undo=undo,
        find=action("&Find", QKeySequence.StandardKey.Find, slots.find),
    )


def build_menus(window: QMainWindow, actions: WindowActions, remove: QAction) -> None:
    """File, Edit and Check menus in the window's menu bar."""
    menu = window.menuBar()
    file_menu = menu.addMenu("&File")
    file_menu.addAction(actions.open_list)
    file_menu.addAction(actions.export)
    file_menu.addSeparator()
    file_menu.addAction(actions.reminders)
    file_menu.addAction(actions.preferences)
    file_menu.addSeparator()
    file_menu.addAction(actions.quit)
    edit_menu = menu.addMenu("&Edit")
    edit_menu.addAction(actions.undo)
    edit_menu.addSeparator()
    for act in (actions.copy, remove, actions.find):
        edit_menu.addAction(act)
    check_menu = menu.addMenu("&Check")
    check_menu.addAction(actions.check)
    check_menu.addAction(actions.cancel)
