"""Several loopback addresses behind one name, and a DNS server: every endpoint of a name.

    endpoints = EndpointWorld(world)          # servers on 127.0.0.2-4, one port
    settings = endpoints.settings(timeout_seconds=2)
    env = endpoints.env                       # world.env plus RESOLVE / DNS_SERVER
    endpoints.stop()

Names (``.test``, never real DNS):

    mixed.test  --resolve -> 127.0.0.2 valid for a year,
                             127.0.0.3 and 127.0.0.4 one certificate expiring in 4 days
    same.test   --resolve -> 127.0.0.2 and 127.0.0.3 serve the same valid certificate
    half.test   --resolve -> 127.0.0.2 valid, 127.0.0.5 refuses the connection
    dns.test    DNS (A)   -> 127.0.0.2 valid, 127.0.0.3 expired 2 days ago

DNS server (``DOMAINCHECK_DNS_SERVER``), for the names above that use DNS and mail:

    mail.test     MX 10 mx1.mail.test, 20 mx2.mail.test
    nomail.test   null MX (accepts no mail)
    nomx.test     exists, no MX record
    slowdns.test  never answered

The connect-to rules (first in the list, before the world's catch-all) keep each name
and change only its port to the servers' common port, so the ``--resolve`` rules
and DNS, applied after connect-to, decide the addresses: the composition the CLI
documents.
"""

from __future__ import annotations

import dataclasses
import errno
from typing import Any

from core.config import ConnectRule, ResolveRule, Settings
from tests.helpers.dns_server import DnsServer
from tests.helpers.pki import DEFAULT_HOST, CertFiles
from tests.helpers.starttls_servers import StartTlsServers
from tests.helpers.tls_server import SniTlsServer
from tests.helpers.world import LoopbackWorld

MIXED_HOST = "mixed.test"
SAME_HOST = "same.test"
HALF_HOST = "half.test"
DNS_HOST = "dns.test"
MAIL_DOMAIN = "mail.test"
MX_HOSTS = ("mx1.mail.test", "mx2.mail.test")
NULL_MX_DOMAIN = "nomail.test"
NO_MX_DOMAIN = "nomx.test"
SLOW_DNS_HOST = "slowdns.test"
#: Addresses that serve certificates; ``REFUSING_ADDRESS`` has nothing listening.
SERVING_ADDRESSES = ("127.0.0.2", "127.0.0.3", "127.0.0.4")
REFUSING_ADDRESS = "127.0.0.5"
EXPIRING_DAYS = 4.5
_PORT_ATTEMPTS = 20


class EndpointWorld:
    """Three loopback TLS servers on one port, and a DNS server; live once built."""

    def __init__(self, world: LoopbackWorld) -> None:
        self.world = world
        pki = world.pki
        valid = pki.issue("endpoints-valid", [MIXED_HOST, SAME_HOST, HALF_HOST, DNS_HOST])
        expiring = pki.issue("endpoints-expiring", [MIXED_HOST], days=EXPIRING_DAYS, age_days=85)
        expired = pki.issue("endpoints-expired", [DNS_HOST], days=-2, age_days=90)
        #: The MX hosts' certificate (see :meth:`serve_mail`).
        self.mail_cert = pki.issue("endpoints-mx", list(MX_HOSTS))
        #: Address -> name -> the certificate served there.
        self.plan: dict[str, dict[str, CertFiles]] = {
            "127.0.0.2": {MIXED_HOST: valid, SAME_HOST: valid, HALF_HOST: valid, DNS_HOST: valid},
            "127.0.0.3": {MIXED_HOST: expiring, SAME_HOST: valid, DNS_HOST: expired},
            "127.0.0.4": {MIXED_HOST: expiring},
        }
        self.certs = {"valid": valid, "expiring": expiring, "expired": expired}
        self.servers: list[SniTlsServer] = []
        self.dns = DnsServer()
        try:
            self.port = self._start_servers()
            self.dns.start()
            self.dns.add_address(DNS_HOST, "127.0.0.2", "127.0.0.3")
            self.dns.add_mx(MAIL_DOMAIN, (10, MX_HOSTS[0]), (20, MX_HOSTS[1]))
            for host in MX_HOSTS:
                self.dns.add_address(host, "127.0.0.1")
            self.dns.add_null_mx(NULL_MX_DOMAIN)
            self.dns.add_address(NO_MX_DOMAIN, "127.0.0.1")
            self.dns.add_silent(SLOW_DNS_HOST)
        except BaseException:
            self.stop()
            raise

    def _start_servers(self) -> int:
        """One SNI server per address, all on one port (retried when it is taken)."""
        default = self.world.pki.certs[DEFAULT_HOST]
        for _ in range(_PORT_ATTEMPTS):
            port = 0
            started: list[SniTlsServer] = []
            try:
                for address, names in self.plan.items():
                    server = SniTlsServer(default.chain_file, default.key_file)
                    for name, files in names.items():
                        server.add_host(name, files.chain_file, files.key_file)
                    server.bind_address = address
                    server.bind_port = port
                    server.start()
                    started.append(server)
                    port = server.port
            except RuntimeError as exc:
                for server in started:
                    server.stop()
                cause = exc.__cause__
                if isinstance(cause, OSError) and cause.errno == errno.EADDRINUSE:
                    continue
                raise
            self.servers = started
            return port
        raise RuntimeError("no port free on every loopback address")

    def serve_mail(self, servers: StartTlsServers) -> tuple[ConnectRule, ...]:
        """Let ``servers``' SMTP server present the MX hosts' certificate, and the
        connect-to rules sending both MX hosts (port 25) there."""
        smtp = servers.server("smtp")
        for host in MX_HOSTS:
            smtp.add_host(host, self.mail_cert.chain_file, self.mail_cert.key_file)
        return tuple(
            rule for host in MX_HOSTS for rule in servers.connect_rules(host, protocols=("smtp",))
        )

    @property
    def connect_rules(self) -> tuple[ConnectRule, ...]:
        """Keep the name, change the port: the addresses come from --resolve or DNS."""
        names = (MIXED_HOST, SAME_HOST, HALF_HOST, DNS_HOST, SLOW_DNS_HOST)
        return tuple(ConnectRule(name, None, "", self.port) for name in names)

    @property
    def resolve_rules(self) -> tuple[ResolveRule, ...]:
        return (
            ResolveRule(MIXED_HOST, self.port, SERVING_ADDRESSES),
            ResolveRule(SAME_HOST, self.port, SERVING_ADDRESSES[:2]),
            ResolveRule(HALF_HOST, self.port, ("127.0.0.2", REFUSING_ADDRESS)),
        )

    @property
    def env(self) -> dict[str, str]:
        """``DOMAINCHECK_*`` for a CLI run: the world's, with these rules first."""
        env = dict(self.world.env)
        rules = (*self.connect_rules, *self.world.connect_rules)
        env["DOMAINCHECK_CONNECT_TO"] = ",".join(str(rule) for rule in rules)
        env["DOMAINCHECK_RESOLVE"] = ";".join(str(rule) for rule in self.resolve_rules)
        env["DOMAINCHECK_DNS_SERVER"] = self.dns.address
        return env

    def settings(self, **overrides: Any) -> Settings:
        base = self.world.settings(
            connect_to=(*self.connect_rules, *self.world.connect_rules),
            resolve=self.resolve_rules,
            dns_server=("127.0.0.1", self.dns.port),
        )
        return dataclasses.replace(base, **overrides)

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        self.servers = []
        self.dns.stop()
