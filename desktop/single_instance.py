"""One running app per user: a second launch hands its files to the first and exits.

The first instance listens on a ``QLocalServer`` whose name is derived from the user
and the data folder (so two users, or two test runs with their own ``XDG_DATA_HOME``,
never meet). A later launch connects, sends one JSON line
``{"files": [...], "show": true}`` and waits for ``ok``; the first instance brings its
window forward (unless ``show`` is false: a second ``--background`` start, e.g. at
login, must not pop a window up) and adds the files. A message without ``show``
(from an older version) means show.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from core import paths

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_MS = 500
REPLY_TIMEOUT_MS = 3_000
_MAX_MESSAGE_BYTES = 1 << 20
_ACK = b"ok\n"


def server_name() -> str:
    """Per user and per data folder, short enough for a Unix socket path."""
    try:
        user = getpass.getuser()
    except Exception:  # no user name in some containers
        user = "user"
    digest = hashlib.sha256(f"{user}\0{paths.data_dir()}".encode()).hexdigest()[:16]
    return f"domaincheck-{digest}"


def hand_off(files: Sequence[Path], name: str | None = None, *, show: bool = True) -> bool:
    """Give ``files`` to a running instance (and ask it to show its window unless
    ``show`` is false); False when there is none."""
    socket = QLocalSocket()
    socket.connectToServer(name or server_name())
    if not socket.waitForConnected(CONNECT_TIMEOUT_MS):
        return False
    files_text = [str(Path(f).resolve()) for f in files]
    message = json.dumps({"files": files_text, "show": show}) + "\n"
    socket.write(message.encode())
    socket.flush()
    while socket.bytesToWrite() and socket.waitForBytesWritten(REPLY_TIMEOUT_MS):
        pass
    reply = bytes(socket.readAll().data())  # the answer may already be in
    while not reply.endswith(b"\n") and socket.waitForReadyRead(REPLY_TIMEOUT_MS):
        reply += bytes(socket.readAll().data())
    if reply != _ACK:
        log.warning("the running instance did not confirm the hand-off")
    socket.disconnectFromServer()
    return True


class InstanceServer(QObject):
    """Listens for later launches.

    Signals:
        launched(list[Path], bool): another launch handed over its files (maybe none)
            and whether the window should come forward.
    """

    launched = Signal(list, bool)

    def __init__(self, name: str | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name or server_name()
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.newConnection.connect(self._on_connection)
        self._buffers: dict[int, bytes] = {}

    def listen(self) -> bool:
        """Start listening (removing a stale socket left by a crashed instance)."""
        if self._server.listen(self.name):
            return True
        QLocalServer.removeServer(self.name)
        if self._server.listen(self.name):
            return True
        log.warning("single-instance server not available: %s", self._server.errorString())
        return False

    def close(self) -> None:
        self._server.close()
        self._buffers.clear()

    def _on_connection(self) -> None:
        while (socket := self._server.nextPendingConnection()) is not None:
            self._buffers[id(socket)] = b""
            socket.readyRead.connect(self._on_ready_read)
            socket.disconnected.connect(self._on_disconnected)
            if socket.bytesAvailable():
                self._read(socket)

    def _on_disconnected(self) -> None:
        socket = self.sender()
        if isinstance(socket, QLocalSocket):
            self._buffers.pop(id(socket), None)
            socket.deleteLater()

    def _on_ready_read(self) -> None:
        socket = self.sender()
        if isinstance(socket, QLocalSocket):
            self._read(socket)

    def _read(self, socket: QLocalSocket) -> None:
        key = id(socket)
        data = self._buffers.get(key, b"") + bytes(socket.readAll().data())
        if b"\n" not in data:
            if len(data) > _MAX_MESSAGE_BYTES:
                socket.abort()
            else:
                self._buffers[key] = data
            return
        line = data.split(b"\n", 1)[0]
        self._buffers[key] = b""
        try:
            message = json.loads(line)
            files = [Path(f) for f in message["files"]]
            show = message.get("show", True)
            if not isinstance(show, bool):
                raise TypeError("show is not a boolean")
        except (ValueError, KeyError, TypeError, AttributeError):
            log.warning("ignoring a malformed hand-off message")
            socket.abort()
            return
        socket.write(_ACK)
        socket.flush()
        self.launched.emit(files, show)
