"""``DomainCheck --self-test`` and ``--version``: prove a build works, from inside it.

The frozen app cannot import ``tests/``, so the self-test builds its own tiny loopback
world: a throw-away CA and three leaf certificates made with ``cryptography``, one TLS
server per host on 127.0.0.1, an RDAP server on loopback with its own bootstrap file,
and ``connect_to`` rules that send ``valid.test``/``expiring.test``/``expired.test`` there.
It then opens the real main window (offscreen), checks those hosts through the real
engine (the spawned engine process, so ``multiprocessing`` under ``sys.frozen`` is
exercised) and verifies what the table shows. Along the way it checks what freezing
tends to break: bundled resources, certifi's CA bundle, cryptography's OpenSSL, Qt's
TLS plugin, keyring's entry-point backends and the analytics module in disabled mode.

It prints one line per check and exits 0 when everything required passed. User data is
never touched: the data, config and cache folders point into a temporary folder.

``DOMAINCHECK_STARTUP_PROBE=1`` makes a normal start print :data:`WINDOW_SHOWN_MARKER`
once the main window has painted, then quit; ``bench/startup.py`` times that.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import json
import os
import socket
import ssl
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import core

SELF_TEST_FLAG = "--self-test"
VERSION_FLAG = "--version"
STARTUP_PROBE_ENV = "DOMAINCHECK_STARTUP_PROBE"
WINDOW_SHOWN_MARKER = "DOMAINCHECK_WINDOW_SHOWN"
#: The whole loopback check must finish within this (it takes about a second).
CHECK_TIMEOUT_MS = 60_000
KEYRING_SERVICE = "Domain Check self-test"
#: Host -> (days the certificate has left, status the table must show).
LOOPBACK_HOSTS = {
    "valid.test": (365, "valid"),
    "expiring.test": (5, "expiring"),
    "expired.test": (-2, "expired"),
}
RDAP_EXPIRES_DAYS = 400
RDAP_REGISTRAR = "Self-Test Registrar"


def early_exit(args: Sequence[str]) -> int | None:
    """Handle ``--version``/``--self-test`` before any window exists; ``None`` = go on.

    Called first thing by ``desktop.__main__.main`` so both work without a display.
    """
    if VERSION_FLAG in args:
        _out(f"Domain Check {core.__version__}")
        return 0
    if SELF_TEST_FLAG in args:
        return run_self_test()
    if os.environ.get(STARTUP_PROBE_ENV):
        install_startup_probe(args)
    return None


def _out(line: str) -> None:
    if sys.stdout is not None:  # a windowed Windows exe has no stdout
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


# ------------------------------------------------------------------ startup probe


_probe: Any = None  # the event filter; kept alive for the life of the app


def install_startup_probe(args: Sequence[str]) -> None:
    """Create the QApplication with a filter that reports the main window's first paint.

    ``main()`` reuses an existing QApplication, so the app starts exactly as usual.
    """
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QApplication, QMainWindow

    global _probe

    class _Probe(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint and isinstance(watched, QMainWindow):
                app = QApplication.instance()
                if app is not None:
                    app.removeEventFilter(self)
                _out(f"{WINDOW_SHOWN_MARKER} {time.time():.6f}")
                QTimer.singleShot(0, QApplication.quit)
            return False

    app = QApplication.instance() or QApplication([sys.argv[0], *args])
    _probe = _Probe()
    app.installEventFilter(_probe)


# ------------------------------------------------------------------ the self-test


@dataclasses.dataclass(frozen=True)
class Outcome:
    """One verified (or failed) item of the report."""

    name: str
    ok: bool
    detail: str
    #: Failing it does not fail the self-test (e.g. no keyring on a headless box).
    optional: bool = False


def run_self_test() -> int:
    """Run every check, print the report, return the exit status."""
    with tempfile.TemporaryDirectory(prefix="domaincheck-selftest-") as tmp:
        home = Path(tmp)
        _isolate(home)
        _out(
            f"Domain Check {core.__version__} self-test "
            f"({'frozen' if getattr(sys, 'frozen', False) else 'source'}, "
            f"Python {sys.version.split()[0]}, {sys.platform})"
        )
        outcomes: list[Outcome] = []
        for step in (
            _check_resources,
            _check_certifi,
            _check_openssl,
            _check_keyring,
            _check_analytics,
            _check_build_config,
        ):
            outcomes.append(_run_step(step))
            _report(outcomes[-1])
        for outcome in _check_window_and_engine(home):
            outcomes.append(outcome)
            _report(outcome)
    failed = [o for o in outcomes if not o.ok and not o.optional]
    _out(
        f"self-test {'FAILED' if failed else 'passed'}: {len(outcomes) - len(failed)} "
        f"of {len(outcomes)} checks ok"
    )
    return 1 if failed else 0


def _run_step(step: Callable[[], Outcome]) -> Outcome:
    name = step.__name__.removeprefix("_check_").replace("_", " ")
    try:
        return step()
    except Exception as exc:  # a self-test reports every failure, it never crashes
        return Outcome(name, False, f"{type(exc).__name__}: {exc}")


def _report(outcome: Outcome) -> None:
    mark = "ok  " if outcome.ok else ("note" if outcome.optional else "FAIL")
    _out(f"  {mark} {outcome.name}: {outcome.detail}")


def _isolate(home: Path) -> None:
    """Point every per-user folder into ``home``; set before Qt and the engine start."""
    for variable in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        (home / variable.lower()).mkdir()
        os.environ[variable] = str(home / variable.lower())
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    os.environ["DOMAINCHECK_NO_ANALYTICS"] = "1"
    os.environ["DO_NOT_TRACK"] = "1"
    for name in list(os.environ):
        if name.startswith("DOMAINCHECK_") and name != "DOMAINCHECK_NO_ANALYTICS":
            del os.environ[name]  # only the self-test's own settings apply


def _check_resources() -> Outcome:
    from core import paths
    from core.rdap import BOOTSTRAP_FILE_NAME, Bootstrap

    svgs = sorted(p.stem for p in (paths.resources_dir() / "icons").glob("*.svg"))
    if "domaincheck" not in svgs or not any(s.startswith("status-") for s in svgs):
        raise FileNotFoundError(f"icons missing in {paths.resources_dir()}")
    # IANA's RDAP bootstrap is bundled only when a build had a copy to hand; without
    # one it is fetched on first use. A bundled copy must parse.
    shipped = paths.resource(BOOTSTRAP_FILE_NAME)
    if shipped.is_file():
        tlds = len(Bootstrap.parse(shipped.read_bytes()).services)
        bootstrap = f"RDAP bootstrap: {tlds} TLDs"
    else:
        bootstrap = "no bundled RDAP bootstrap: fetched on first use"
    return Outcome(
        "resources", True, f"{paths.resources_dir()} ({bootstrap}, {len(svgs)} SVG icons)"
    )


def _check_certifi() -> Outcome:
    import certifi

    bundle = Path(certifi.where())
    context = ssl.create_default_context(cafile=str(bundle))
    count = context.cert_store_stats()["x509_ca"]
    return Outcome("certifi CA bundle", count > 50, f"{count} CAs from {bundle}")


def _check_openssl() -> Outcome:
    from cryptography.hazmat.backends.openssl.backend import backend

    return Outcome(
        "OpenSSL",
        True,
        f"cryptography uses {backend.openssl_version_text()}; Python ssl uses "
        f"{ssl.OPENSSL_VERSION}",
    )


def _check_keyring() -> Outcome:
    """Round-trip a secret, or report the file fallback the app would use."""
    if importlib.util.find_spec("keyring") is None:
        return Outcome(
            "keyring", True, "not installed: tokens use the 0600 file fallback", optional=True
        )
    import keyring
    import keyring.backend
    import keyring.errors

    viable = sorted(
        type(k).__module__ + "." + type(k).__name__ for k in keyring.backend.get_all_keyring()
    )
    from importlib import metadata

    found = sorted(ep.name for ep in metadata.entry_points(group="keyring.backends"))
    backends = (
        f"entry points: {', '.join(found) or 'NONE'}; "
        f"viable backends: {', '.join(viable) or 'none'}"
    )
    chosen = keyring.get_keyring()
    user = f"selftest-{uuid.uuid4().hex[:8]}"
    secret = uuid.uuid4().hex
    try:
        keyring.set_password(KEYRING_SERVICE, user, secret)
        try:
            read_back = keyring.get_password(KEYRING_SERVICE, user)
        finally:
            with contextlib.suppress(keyring.errors.KeyringError):
                keyring.delete_password(KEYRING_SERVICE, user)
    except Exception as exc:  # NoKeyringError, locked collection, no D-Bus, ...
        return Outcome(
            "keyring",
            False,
            f"no usable keyring ({type(exc).__name__}); the app falls back to a 0600 file. "
            + backends,
            optional=True,
        )
    ok = read_back == secret
    return Outcome("keyring", ok, f"round-tripped a secret through {chosen.name}. {backends}")


def _check_analytics() -> Outcome:
    """Analytics (issue 6) must come up switched off here: no client, no requests."""
    if importlib.util.find_spec("core.analytics") is None:
        return Outcome("analytics", True, "not present")
    from core.analytics import Analytics

    analytics = Analytics.create("desktop")  # DOMAINCHECK_NO_ANALYTICS=1: see _isolate
    try:
        reason = getattr(analytics.reason, "value", analytics.reason)
        sdk = _distribution_version("posthog")
        return Outcome(
            "analytics",
            not analytics.enabled and sdk is not None,
            f"initialised disabled ({reason}); PostHog SDK {sdk or 'MISSING from the bundle'}",
        )
    finally:
        analytics.shutdown(timeout_seconds=1)


def _distribution_version(name: str) -> str | None:
    """The installed version of ``name`` if it can be imported (its metadata may be absent)."""
    if importlib.util.find_spec(name) is None:
        return None
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "present"


def _check_build_config() -> Outcome:
    """Which build-time settings were baked in (names only, never the values)."""
    if importlib.util.find_spec("core._build_config") is None:
        return Outcome("build config", True, "none baked in (analytics off unless configured)")
    import core._build_config as build_config  # type: ignore[import-not-found]

    names = ("POSTHOG_API_KEY", "POSTHOG_HOST", "BACKEND_URL")
    present = [name for name in names if getattr(build_config, name, None)]
    return Outcome("build config", True, f"baked in: {', '.join(present) or 'empty'}")


# ------------------------------------------------------------------ loopback world


@dataclasses.dataclass(frozen=True)
class _World:
    ca_file: Path
    chain_files: dict[str, tuple[Path, Path]]  # host -> (chain PEM, key PEM)
    ports: dict[str, int]
    bootstrap_file: Path


def _make_pki(directory: Path) -> tuple[Path, dict[str, tuple[Path, Path]]]:
    """A root CA and one leaf per loopback host, valid for the days in LOOPBACK_HOSTS."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.now(UTC).replace(microsecond=0)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Domain Check Self-Test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=60))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = directory / "ca.pem"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files: dict[str, tuple[Path, Path]] = {}
    for host, (days, _status) in LOOPBACK_HOSTS.items():
        key = ec.generate_private_key(ec.SECP256R1())
        not_after = now + timedelta(days=days)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(min(now - timedelta(days=30), not_after - timedelta(days=1)))
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
            )
            .sign(ca_key, hashes.SHA256())
        )
        chain_file = directory / f"{host}.pem"
        key_file = directory / f"{host}.key"
        chain_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        files[host] = (chain_file, key_file)
    return ca_file, files


def _serve_tls(chain_file: Path, key_file: Path, stop: threading.Event) -> int:
    """A TLS server on 127.0.0.1 that completes handshakes; returns its port."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain_file, key_file)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)

    def handle(conn: socket.socket) -> None:
        with contextlib.suppress(OSError), conn:
            conn.settimeout(5)
            with context.wrap_socket(conn, server_side=True) as tls:
                while tls.recv(1024):
                    pass

    def accept_loop() -> None:
        with listener:
            while not stop.is_set():
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    continue
                except OSError:
                    return
                threading.Thread(target=handle, args=(conn,), daemon=True).start()

    threading.Thread(target=accept_loop, name="selftest-tls", daemon=True).start()
    return int(listener.getsockname()[1])


class _RdapHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        domain = self.path.rstrip("/").rsplit("/", 1)[-1]
        expires = datetime.now(UTC) + timedelta(days=RDAP_EXPIRES_DAYS)
        body = json.dumps(
            {
                "objectClassName": "domain",
                "ldhName": domain,
                "events": [
                    {
                        "eventAction": "expiration",
                        "eventDate": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    }
                ],
                "entities": [
                    {
                        "objectClassName": "entity",
                        "roles": ["registrar"],
                        "vcardArray": [
                            "vcard",
                            [["version", {}, "text", "4.0"], ["fn", {}, "text", RDAP_REGISTRAR]],
                        ],
                    }
                ],
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/rdap+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def _loopback_world(directory: Path) -> Iterator[_World]:
    ca_file, chain_files = _make_pki(directory)
    stop = threading.Event()
    rdap = ThreadingHTTPServer(("127.0.0.1", 0), _RdapHandler)
    rdap.daemon_threads = True
    threading.Thread(target=rdap.serve_forever, args=(0.05,), daemon=True).start()
    try:
        ports = {host: _serve_tls(*files, stop) for host, files in chain_files.items()}
        bootstrap_file = directory / "rdap-bootstrap.json"
        bootstrap_file.write_text(
            json.dumps(
                {
                    "version": "1.0",
                    "publication": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "services": [[["test"], [f"http://127.0.0.1:{rdap.server_port}/rdap/"]]],
                }
            )
        )
        yield _World(ca_file, chain_files, ports, bootstrap_file)
    finally:
        stop.set()
        rdap.shutdown()
        rdap.server_close()


# ------------------------------------------------------------------ window + engine


def _check_window_and_engine(home: Path) -> list[Outcome]:
    try:
        from PySide6.QtWidgets import QApplication

        app = QApplication.instance() or QApplication([sys.argv[0]])
        assert isinstance(app, QApplication)
        with _loopback_world(home) as world:
            return [_check_qt_tls(world), *_check_engine(app, world, home)]
    except Exception as exc:
        return [Outcome("window and engine", False, f"{type(exc).__name__}: {exc}")]


def _check_qt_tls(world: _World) -> Outcome:
    """Qt's TLS plugin loads and completes a verified handshake with a loopback host."""
    from PySide6.QtNetwork import QSsl, QSslCertificate, QSslConfiguration, QSslSocket

    backends = ", ".join(QSslSocket.availableBackends()) or "none"
    if not QSslSocket.supportsSsl():
        return Outcome("Qt TLS", False, f"no working TLS backend (plugins: {backends})")
    socket_ = QSslSocket()
    config = QSslConfiguration.defaultConfiguration()
    config.setCaCertificates(QSslCertificate.fromPath(str(world.ca_file), QSsl.EncodingFormat.Pem))
    socket_.setSslConfiguration(config)
    socket_.setPeerVerifyName("valid.test")
    socket_.connectToHostEncrypted("127.0.0.1", world.ports["valid.test"], "valid.test")
    encrypted = socket_.waitForEncrypted(10_000)
    errors = "; ".join(e.errorString() for e in socket_.sslHandshakeErrors())
    socket_.abort()
    detail = (
        f"{QSslSocket.activeBackend()} backend ({QSslSocket.sslLibraryVersionString()}), "
        f"plugins: {backends}"
    )
    if not encrypted:
        return Outcome(
            "Qt TLS", False, f"handshake failed ({errors or socket_.errorString()}); " + detail
        )
    return Outcome("Qt TLS", True, "verified handshake with valid.test; " + detail)


def _check_engine(app: Any, world: _World, home: Path) -> list[Outcome]:
    """The real window checks the loopback hosts through the real (child-process) engine."""
    from PySide6.QtCore import QEventLoop, QTimer

    from core.config import ConnectRule, Settings
    from core.storage import Watchlist
    from desktop import icons
    from desktop.app import DomainCheckApp

    settings = Settings(
        ca_file=world.ca_file,
        connect_to=tuple(
            ConnectRule(host=host, port=443, target_host="127.0.0.1", target_port=port)
            for host, port in world.ports.items()
        ),
        rdap_bootstrap=str(world.bootstrap_file),
        timeout_seconds=10,
        concurrency=8,
    )
    app.setWindowIcon(icons.app_icon())
    domain_check = DomainCheckApp(
        settings=settings,
        watchlist=Watchlist(home / "watchlist.sqlite3"),
        preferences_path=home / "desktop.json",
        tray_available=False,
        exit_app=lambda: None,
    )
    outcomes = []
    try:
        domain_check.start()
        window = domain_check.window
        app.processEvents()
        shown = window.isVisible() and not window.grab().isNull()
        has_icon = not app.windowIcon().isNull()
        outcomes.append(
            Outcome(
                "main window",
                shown and has_icon,
                f"shown offscreen ({window.width()}x{window.height()}, "
                f"title {window.windowTitle()!r}, app icon {'set' if has_icon else 'MISSING'})",
            )
        )

        loop = QEventLoop()
        finished: list[bool] = []

        def on_finished(cancelled: bool) -> None:
            finished.append(cancelled)
            loop.quit()

        domain_check.check_finished.connect(on_finished)
        QTimer.singleShot(CHECK_TIMEOUT_MS, loop.quit)
        started = time.monotonic()
        hosts = "\n".join(LOOPBACK_HOSTS)
        window.input.setPlainText(hosts)
        domain_check.check_input(hosts)  # what typing the hosts and pressing Check does
        if not domain_check.is_checking:
            raise RuntimeError("the check did not start")
        loop.exec()
        elapsed = time.monotonic() - started
        if not finished:
            outcomes.append(Outcome("engine", False, f"no result within {CHECK_TIMEOUT_MS} ms"))
            return outcomes
        seen = {row.target.host: row for row in domain_check.model.rows()}
        problems = []
        for host, (_days, expected) in LOOPBACK_HOSTS.items():
            row = seen.get(host)
            status = row.status.value if row is not None and row.status is not None else None
            if status != expected:
                problem = row.result.problem if row is not None and row.result else "no result"
                problems.append(f"{host}: {status} ({problem}), expected {expected}")
            elif (
                row is not None
                and row.result is not None
                and (
                    row.result.registration is None
                    or row.result.registration.registrar != RDAP_REGISTRAR
                )
            ):
                problems.append(f"{host}: RDAP registration not read")
        statuses = ", ".join(
            f"{host} {seen_status.value}"
            for host in LOOPBACK_HOSTS
            if host in seen and (seen_status := seen[host].status) is not None
        )
        outcomes.append(
            Outcome(
                "engine",
                not problems and finished == [False],
                "; ".join(problems)
                if problems
                else f"checked {len(LOOPBACK_HOSTS)} loopback hosts in {elapsed:.2f} s in a "
                f"spawned engine process (TLS + RDAP over httpx): {statuses}",
            )
        )
    finally:
        domain_check.quit()
        window = domain_check.window
        window.close()
        window.deleteLater()
        app.processEvents()
    return outcomes
