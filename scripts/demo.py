"""Run the real ``domaincheck`` CLI against the loopback test world and show its output.

    .venv/bin/python scripts/demo.py [--format table|json|csv]

Starts the test CA, the SNI TLS server, the RDAP server and the dead/hanging ports on
127.0.0.1 (tests/helpers/world.py), then runs ``domaincheck check`` as a subprocess
with ``DOMAINCHECK_CA_FILE``/``DOMAINCHECK_CONNECT_TO``/``DOMAINCHECK_RDAP_BOOTSTRAP``
pointing at them. Nothing leaves the machine. The README's sample output comes from it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

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
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--format", default="table", choices=("table", "json", "csv"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, LoopbackWorld(Path(tmp) / "world") as world:
        listing = Path(tmp) / "sites.txt"
        listing.write_text(LIST, encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOMAINCHECK_")}
        env.update(world.env, XDG_CACHE_HOME=str(Path(tmp) / "cache"), COLUMNS="140")
        script = Path(sys.executable).with_name("domaincheck")
        command = [str(script), "check", "-f", "sites.txt", "--timeout", "3"]
        if args.format != "table":
            command += ["--format", args.format]
        print("$ domaincheck check -f sites.txt --timeout 3", flush=True)
        proc = subprocess.run(command, cwd=tmp, env=env, check=False)
        print(f"$ echo $?\n{proc.returncode}")
        return 0


if __name__ == "__main__":
    sys.exit(main())
