"""`make run`: upgrade the schema, load the demo district into an empty database, then start every process
the platform needs and stop them all together on Ctrl-C.

Processes come from PROCESSES; features add theirs (scheduler, dispatcher, WeChat stand-in) as they arrive.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

FLASK = [sys.executable, "-m", "flask", "--app", "wsgi"]


def processes(port: str) -> list[tuple[str, list[str]]]:
    procs = [("web", [*FLASK, "run", "--host", "127.0.0.1", "--port", port, "--with-threads", "--no-reload"])]
    from core import hooks

    procs += [(name, [*FLASK, *args]) for name, args in hooks.background_processes]
    return procs


def main() -> int:
    os.environ.setdefault("MEDIATION_ENV", "development")
    port = os.environ.get("PORT", "5000")
    # Links in messages to the stand-in point at this server.
    os.environ.setdefault("MEDIATION_PUBLIC_BASE_URL", f"http://127.0.0.1:{port}")
    os.makedirs("instance", exist_ok=True)
    subprocess.run([*FLASK, "db", "upgrade"], check=True)
    subprocess.run([*FLASK, "demo", "load", "--if-empty"], check=True)

    from core.app import create_app

    create_app()  # registers every feature's background processes in core.hooks
    children = []
    for name, cmd in processes(port):
        print(f"[run] starting {name}: {' '.join(cmd[3:])}", flush=True)
        children.append((name, subprocess.Popen(cmd)))
    print(f"[run] 矛调通 serving on http://127.0.0.1:{port} — Ctrl-C stops everything", flush=True)

    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    code = 0
    try:
        while not stopping:
            for name, proc in children:
                if proc.poll() is not None:
                    print(f"[run] {name} exited with {proc.returncode}; stopping the rest", flush=True)
                    code = proc.returncode or 1
                    stopping = True
            time.sleep(0.5)
    finally:
        for _name, proc in children:
            if proc.poll() is None:
                proc.terminate()
        for _name, proc in children:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    return code


if __name__ == "__main__":
    sys.exit(main())
