"""Run a command with the database and broker in place.

``DATABASE_URL`` / ``REDIS_URL`` set: used as they are. Unset: ``common.infra`` starts the
embedded PostgreSQL and Redis once, here, and hands their URLs to the command (and everything it
starts), so several processes share one server and it stops when this wrapper ends.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import infra  # noqa: E402


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not argv:
        print("usage: with_services.py COMMAND [ARGS...]", file=sys.stderr)
        return 2
    env = dict(os.environ)
    env["DATABASE_URL"] = infra.database_url()
    env["REDIS_URL"] = infra.redis_url()
    env["PAYDESK_SERVICES"] = ",".join(f"{k}={v}" for k, v in infra.describe().items())
    proc = subprocess.Popen(argv, env=env, start_new_session=False)

    def forward(signum, frame):
        proc.send_signal(signum)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    return proc.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
