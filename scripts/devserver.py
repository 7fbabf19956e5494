"""``make run``: web server, Celery worker and Celery beat together; Ctrl-C stops all three."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
HOST = os.environ.get("HOST", "127.0.0.1")
PORT = os.environ.get("PORT", "8000")


def main() -> int:
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    procs = {
        "web": [PY, "manage.py", "runserver", f"{HOST}:{PORT}", "--noreload"],
        "worker": [
            PY,
            "-m",
            "celery",
            "-A",
            "billing_site",
            "worker",
            "-l",
            "INFO",
            "-Q",
            "default,psp,dunning,exports",
            "--concurrency",
            "2",
        ],
        "beat": [
            PY,
            "-m",
            "celery",
            "-A",
            "billing_site",
            "beat",
            "-l",
            "INFO",
            "--schedule",
            str(ROOT / ".data" / "celerybeat-schedule"),
        ],
    }
    (ROOT / ".data").mkdir(exist_ok=True)
    from staff.demo_logins import DEMO_ADMIN, DEMO_USERS, demo_password

    running = {name: subprocess.Popen(cmd) for name, cmd in procs.items()}
    time.sleep(2)

    lines = [
        "",
        "=" * 64,
        f"  Paydesk is running at http://{HOST}:{PORT}/",
        f"  services: {os.environ.get('PAYDESK_SERVICES', '')}",
        "  Demo logins (username / password):",
    ]
    for username, _first, _last, role in DEMO_USERS:
        lines.append(f"    {role:<14} {username} / {demo_password(username)}")
    lines.append(f"    {'Superuser':<14} {DEMO_ADMIN[0]} / {demo_password(DEMO_ADMIN[0])}")
    lines += ["  Ctrl-C stops web, worker and beat.", "=" * 64, ""]
    print("\n".join(lines), flush=True)

    stop = False

    def on_signal(signum, frame):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        while not stop and all(p.poll() is None for p in running.values()):
            time.sleep(0.5)
    finally:
        for p in running.values():
            if p.poll() is None:
                p.terminate()
        for p in running.values():
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
    failed = [n for n, p in running.items() if p.returncode not in (0, -15, None) and not stop]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
