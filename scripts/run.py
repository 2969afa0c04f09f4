"""`make run`: migrate, seed a demo tenant, and start web, worker, beat and the SMTP server through honcho."""

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import devservices  # noqa: E402

ROOT = devservices.ROOT
BIN = Path(sys.executable).parent


def manage(*args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], check=True, cwd=ROOT)  # noqa: S603


def main() -> int:
    os.environ.setdefault("DJANGO_DEBUG", "1")
    os.environ.setdefault("DJANGO_SECURE_SSL", "0")
    port = os.environ.setdefault("PORT", "8000")
    os.environ.setdefault("PARLEY_BASE_URL", f"http://localhost:{port}")
    devservices.VAR.mkdir(exist_ok=True)
    redis = devservices.ensure_redis()
    try:
        manage("migrate", "--noinput")
        if shutil.which("msgfmt"):
            manage("compilemessages", "--ignore", ".venv/*", "--verbosity", "0")
        manage("seed_demo")
        print(f"\nParley is starting on http://localhost:{port}/  (Ctrl-C stops everything)\n", flush=True)
        honcho = subprocess.Popen(  # noqa: S603
            [str(BIN / "honcho"), "start", "-f", "Procfile", "-p", port, "web", "worker", "beat", "smtp"],
            cwd=ROOT,
            env={**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}"},
        )
        try:
            return honcho.wait()
        except KeyboardInterrupt:
            honcho.send_signal(signal.SIGINT)
            return honcho.wait()
    finally:
        if redis is not None:
            devservices.stop(redis)


if __name__ == "__main__":
    sys.exit(main())
