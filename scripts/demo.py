"""Run the real ``domaincheck`` CLI against the loopback test world and show its output.

    .venv/bin/python scripts/demo.py [--format table|json|csv]

Starts the loopback test world on 127.0.0.0/8 (tests/helpers/): the test CA, the SNI
TLS server, the RDAP and WHOIS servers, the dead and hanging ports, three addresses
behind ``mixed.test``, a DNS server with the MX records of ``mail.test`` and STARTTLS
servers. Then it runs ``domaincheck check`` as a subprocess twice, with the
``DOMAINCHECK_*`` variables pointing at them: a list of sites, and three names whose
registries answer only WHOIS. Nothing leaves the machine. The README's sample output
comes from it, so every example there is what the CLI really prints.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.helpers.endpoint_world import EndpointWorld
from tests.helpers.starttls_servers import StartTlsServers
from tests.helpers.world import LoopbackWorld

LIST = """\
# Our sites
valid.test
https://expiring.test/shop
bücher.test
shortchain.test
expired.test
wronghost.test
selfsigned.test
regexpiring.test
unregistered.test
closed.test
hang.test
bad..name.test
# Behind a load balancer: three addresses, two still serve an old certificate
mixed.test
# Mail: a STARTTLS service, and a domain's MX hosts
smtp://valid.test
mx:mail.test
"""

#: Names whose TLDs have no RDAP service: their registries' real WHOIS answers.
WHOIS_NAMES = ("google.io", "facebook.de", "amazon.co.uk")


def _run(command: list[str], shown: str, *, cwd: str, env: dict[str, str]) -> None:
    print(f"$ {shown}", flush=True)
    proc = subprocess.run(command, cwd=cwd, env=env, check=False)
    print(f"$ echo $?\n{proc.returncode}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--format", default="table", choices=("table", "json", "csv"))
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        LoopbackWorld(Path(tmp) / "world") as world,
        StartTlsServers(world.pki) as starttls,
    ):
        endpoints = EndpointWorld(world)
        try:
            listing = Path(tmp) / "sites.txt"
            listing.write_text(LIST, encoding="utf-8")
            env = {k: v for k, v in os.environ.items() if not k.startswith("DOMAINCHECK_")}
            env.update(endpoints.env, XDG_CACHE_HOME=str(Path(tmp) / "cache"), COLUMNS="140")
            env["DOMAINCHECK_WATCHLIST"] = str(Path(tmp) / "watchlist.sqlite3")
            mail_rules = (
                *starttls.connect_rules("valid.test", protocols=("smtp",)),
                *endpoints.serve_mail(starttls),
            )
            env["DOMAINCHECK_CONNECT_TO"] = ",".join(
                [*(str(rule) for rule in mail_rules), env["DOMAINCHECK_CONNECT_TO"]]
            )
            script = str(Path(sys.executable).with_name("domaincheck"))
            fmt = [] if args.format == "table" else ["--format", args.format]
            check = ["check", "-f", "sites.txt", "--timeout", "3", *fmt]
            _run([script, *check], " ".join(["domaincheck", *check]), cwd=tmp, env=env)
            whois = ["check", "--no-tls", *fmt, *WHOIS_NAMES]
            _run([script, *whois], " ".join(["domaincheck", *whois]), cwd=tmp, env=env)
        finally:
            endpoints.stop()
        return 0


if __name__ == "__main__":
    sys.exit(main())
