"""The loopback test world: every TLS situation Domain Check must report, on 127.0.0.1.

    world = LoopbackWorld()            # builds the PKI, starts the servers
    settings = world.settings(timeout_seconds=2)
    env = world.env                    # DOMAINCHECK_CA_FILE / DOMAINCHECK_CONNECT_TO
    world.stop()

Names (all under the reserved ``.test`` TLD; nothing here ever touches real DNS):

    valid.test expiring.test today.test expired.test notyet.test selfsigned.test
    wronghost.test untrusted.test xn--bcher-kva.test wildcard.test www.wildcard.test
    shortchain.test expiredchain.test nochain.test
                             -> the SNI TLS server, certificates from tests.helpers.pki
    any other name           -> the SNI TLS server's default certificate (localhost)
    hang.test                -> accepts TCP, never answers (handshake timeout)
    closed.test              -> a port nothing listens on (connection refused)
    plain.test               -> answers HTTP, not TLS
    blackhole.test           -> TCP connects get no answer (connect timeout)

RDAP (an RDAP server on loopback, named for ``.test`` by a bootstrap file):

    every TLS name above     -> registered, expires in 400 days
    regexpiring.test         -> valid certificate, registration expires in 12 days
    regexpired.test          -> valid certificate, registration expired 3 days ago
    unregistered.test        -> valid certificate, RDAP answers 404 (registration unknown)
    rdapbroken.test          -> valid certificate, RDAP answers 500 (registration error)

WHOIS (port 43 of every host goes to one loopback server, tests.helpers.whois_server):

    google.io facebook.de amazon.co.uk ... (every name of ../shared/corpora/whois/)
                             -> the real WHOIS answer captured for that name; their
                                TLS goes to the SNI server's default certificate

Short-lived certificates, renewal windows and revocation (tests.helpers.lifetime_world):

    fresh6.test late6.test mid45.test late45.test mid90.test late90.test
    arinormal.test ariended.test arimoved.test ari404.test ariretry.test arilater.test
    crlrevoked.test crlgood.test crlunreachable.test ocsprevoked.test ocspgood.test
                             -> the SNI TLS server; ``acme_server`` answers renewal
                                information (``--acme-directory world.acme_directory``),
                                ``revocation_server`` the CRL and OCSP they name

The connect-to rules send those names to the right loopback port, whatever the port
asked for; the catch-all rule comes last. They never steer the ACME, CRL and OCSP
downloads, which go to the 127.0.0.1 URLs themselves.
"""

from __future__ import annotations

import dataclasses
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from core.config import ConnectRule, Settings
from tests.helpers.acme_server import AcmeServer
from tests.helpers.lifetime_world import LIFETIME_HOSTS, add_lifetime_hosts
from tests.helpers.pki import DEFAULT_HOST, HOSTS, CertFiles, Pki, make_pki
from tests.helpers.rdap_server import RdapServer, write_bootstrap
from tests.helpers.revocation_server import RevocationServer
from tests.helpers.simple_http import SimpleHttpServer
from tests.helpers.tls_server import (
    HangingServer,
    LoopbackServer,
    PlainHttpServer,
    SniTlsServer,
    UnansweredPort,
    closed_port,
)
from tests.helpers.whois_server import WhoisServer

HANG_HOST = "hang.test"
CLOSED_HOST = "closed.test"
PLAIN_HOST = "plain.test"
BLACKHOLE_HOST = "blackhole.test"
#: Served with the ``wildcard.test`` certificate (``*.wildcard.test``), which covers it.
WILDCARD_HOST = "www.wildcard.test"
REG_EXPIRING_HOST = "regexpiring.test"
REG_EXPIRED_HOST = "regexpired.test"
UNREGISTERED_HOST = "unregistered.test"
RDAP_BROKEN_HOST = "rdapbroken.test"
#: Valid certificates whose interesting part is their registration.
RDAP_HOSTS = (REG_EXPIRING_HOST, REG_EXPIRED_HOST, UNREGISTERED_HOST, RDAP_BROKEN_HOST)
#: Every name the SNI server has a certificate for.
TLS_HOSTS = (*HOSTS, WILDCARD_HOST, *RDAP_HOSTS)
REGISTRAR = "Test Registrar, Inc."
REGISTERED_DAYS = 400


class LoopbackWorld:
    """A test PKI plus the loopback servers that serve it; live once constructed."""

    def __init__(self, directory: Path | None = None, *, now: datetime | None = None) -> None:
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        if directory is None:
            self._tempdir = tempfile.TemporaryDirectory(prefix="domaincheck-world-")
            directory = Path(self._tempdir.name)
        self.directory = directory
        self.pki: Pki = make_pki(self.directory / "pki", now)
        #: Hook for the RDAP server (tests/helpers/rdap_server.py): the bootstrap file
        #: path or URL that ``settings()`` passes on. ``None`` until ``_start_rdap`` sets it.
        self.rdap_bootstrap: str | None = None
        # The CA's services come first: the certificates name their URLs.
        self.acme_server = AcmeServer().start()
        self.revocation_server = RevocationServer(self.pki.intermediate).start()
        self.unreachable_crl_url = f"http://127.0.0.1:{closed_port()}/crl/gone.crl"
        #: Certificates of the lifetime, ARI and revocation hosts, by name.
        self.lifetime_certs: dict[str, CertFiles] = add_lifetime_hosts(
            self.pki, self.acme_server, self.revocation_server, self.unreachable_crl_url
        )

        default = self.pki.certs[DEFAULT_HOST]
        self.tls_server = SniTlsServer(default.chain_file, default.key_file)
        for name in HOSTS:
            files = self.pki.certs[name]
            self.tls_server.add_host(name, files.chain_file, files.key_file)
        wildcard = self.pki.certs["wildcard.test"]
        self.tls_server.add_host(WILDCARD_HOST, wildcard.chain_file, wildcard.key_file)
        for name in RDAP_HOSTS:
            files = self.pki.issue(name.split(".")[0], [name])
            self.tls_server.add_host(name, files.chain_file, files.key_file)
        for name, files in self.lifetime_certs.items():
            self.tls_server.add_host(name, files.chain_file, files.key_file)
        self.rdap_server = RdapServer()
        self.whois_server = WhoisServer()
        self.hanging_server = HangingServer()
        self.plain_server = PlainHttpServer()
        self.unanswered_port = UnansweredPort()
        self._started: list[LoopbackServer | UnansweredPort | RdapServer | SimpleHttpServer] = [
            self.acme_server,
            self.revocation_server,
        ]
        try:
            self.rdap_server.start()
            self._started.append(self.rdap_server)
            for server in (
                self.tls_server,
                self.whois_server,
                self.hanging_server,
                self.plain_server,
                self.unanswered_port,
            ):
                server.start()
                self._started.append(server)
            self.closed_port = closed_port()
            self._start_rdap()
        except BaseException:
            self.stop()
            raise

    def _start_rdap(self) -> None:
        """Register every name with the RDAP server and write the bootstrap file."""
        now = self.pki.now
        for name in (*HOSTS, *RDAP_HOSTS, *LIFETIME_HOSTS):
            self.rdap_server.add_domain(name, now + timedelta(days=REGISTERED_DAYS), REGISTRAR)
        self.rdap_server.add_domain(REG_EXPIRING_HOST, now + timedelta(days=12), REGISTRAR)
        self.rdap_server.add_domain(REG_EXPIRED_HOST, now - timedelta(days=3), REGISTRAR)
        self.rdap_server.set_status(UNREGISTERED_HOST, 404)
        self.rdap_server.set_status(RDAP_BROKEN_HOST, 500)
        bootstrap = write_bootstrap(
            self.directory / "rdap-bootstrap.json", {"test": self.rdap_server.base_url}
        )
        self.rdap_bootstrap = str(bootstrap)

    @property
    def acme_directory(self) -> str:
        """The loopback ACME server's directory URL (for ``--acme-directory``)."""
        return self.acme_server.directory_url

    @property
    def tls_port(self) -> int:
        return self.tls_server.port

    @property
    def connect_rules(self) -> tuple[ConnectRule, ...]:
        """Specific names first, then the catch-all to the SNI server."""
        return (
            ConnectRule(HANG_HOST, None, "127.0.0.1", self.hanging_server.port),
            ConnectRule(CLOSED_HOST, None, "127.0.0.1", self.closed_port),
            ConnectRule(PLAIN_HOST, None, "127.0.0.1", self.plain_server.port),
            ConnectRule(BLACKHOLE_HOST, None, "127.0.0.1", self.unanswered_port.port),
            *self.whois_server.connect_rules(),
            ConnectRule("", None, "127.0.0.1", self.tls_port),
        )

    @property
    def env(self) -> dict[str, str]:
        """``DOMAINCHECK_*`` variables for a CLI run (subprocess) against this world."""
        env = {
            "DOMAINCHECK_CA_FILE": str(self.pki.ca_file),
            "DOMAINCHECK_CONNECT_TO": ",".join(str(rule) for rule in self.connect_rules),
            "DOMAINCHECK_WHOIS_PACE": "0",
        }
        if self.rdap_bootstrap is not None:
            env["DOMAINCHECK_RDAP_BOOTSTRAP"] = self.rdap_bootstrap
        return env

    def settings(self, **overrides: Any) -> Settings:
        """Settings pointing at this world (CA file, connect-to rules, RDAP bootstrap)."""
        base = Settings(
            ca_file=self.pki.ca_file,
            connect_to=self.connect_rules,
            rdap_bootstrap=self.rdap_bootstrap,
            whois_pace_seconds=0,
        )
        return dataclasses.replace(base, **overrides)

    def stop(self) -> None:
        while self._started:
            self._started.pop().stop()
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
