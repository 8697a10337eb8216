"""`make run`: the whole product on one machine, stopped with Ctrl+C.

manage.py has started the embedded services (the LLM too) before Django loaded; this
command stops them at the end, unless they were running already."""

import os
import secrets
import signal
import socket
import subprocess
import sys
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from helpdesk import devstack
from helpdesk.celery import WORKER_ENV
from knowledge.selectors import article_count

DEMO_KB = settings.BASE_DIR / "knowledge" / "demo_kb"


class Command(BaseCommand):
    help = "Start services, migrate, load the demo KB, then serve with daphne, Celery and beat."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
        parser.add_argument("--host", default="127.0.0.1")

    def handle(self, *args, port: int, host: str, **options):
        children: list[subprocess.Popen] = []
        # Ctrl+C, and also SIGTERM or a SIGINT that a parent shell had set to be ignored.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, _interrupt)
        try:
            self._prepare(host, port)
            children = self._start_children(host, port)
            login = self._ensure_admin()
            self._announce(host, port, login)
            self._wait(children)
        except KeyboardInterrupt:
            self.stdout.write("\nStopping…")
        finally:
            _stop(children)
            stopped = devstack.stop_started()
            if stopped:
                self.stdout.write(f"Stopped {', '.join(stopped)}.")

    def _prepare(self, host: str, port: int) -> None:
        if not _port_free(host, port):
            raise CommandError(
                f"Port {port} on {host} is already in use (another `make run`?). "
                f"Stop it or choose another: PORT={port + 1} make run"
            )
        call_command("migrate", interactive=False, verbosity=0)
        if article_count() == 0:
            self.stdout.write("Loading the demo knowledge base…")
            call_command("ingest_kb", str(DEMO_KB))

    def _start_children(self, host: str, port: int) -> list[subprocess.Popen]:
        # Each child inherits the services manage.py started and handed over in os.environ.
        python = sys.executable
        celery_env = {**os.environ, **WORKER_ENV}
        daphne = daphne_command(host, port)
        worker = [python, "-m", "celery", "-A", "helpdesk", "worker", "--loglevel", "INFO",
                  "--concurrency", "1", "--hostname", f"worker-{port}@%h"]  # fmt: skip
        # Beat schedules the review sampling (CELERY_BEAT_SCHEDULE in settings).
        beat = [python, "-m", "celery", "-A", "helpdesk", "beat", "--loglevel", "INFO",
                "--schedule", str(devstack.VAR_DIR / "celerybeat-schedule")]  # fmt: skip
        return [
            subprocess.Popen(daphne),
            subprocess.Popen(worker, env=celery_env),
            subprocess.Popen(beat, env=celery_env),
        ]

    def _ensure_admin(self) -> tuple[str, str]:
        password_file = devstack.VAR_DIR / "admin_password"
        User = get_user_model()
        if not User.objects.filter(username="admin").exists():
            password = os.environ.get("ADMIN_PASSWORD") or secrets.token_urlsafe(12)
            User.objects.create_superuser("admin", "admin@example.com", password)
            password_file.write_text(password)
            password_file.chmod(0o600)
        if password_file.exists():
            return "admin", password_file.read_text().strip()
        return "admin", "(set earlier; change it with manage.py changepassword admin)"

    def _announce(self, host: str, port: int, login: tuple[str, str]) -> None:
        base = f"http://{host}:{port}"
        self.stdout.write(
            self.style.SUCCESS(
                f"\n  Support page:  {base}/\n"
                f"  Admin:         {base}/admin/   login {login[0]} / {login[1]}\n"
                f"  Knowledge base: {base}/kb/\n\n  Press Ctrl+C to stop everything.\n"
            )
        )

    def _wait(self, children: list[subprocess.Popen]) -> None:
        while True:
            for child in children:
                if child.poll() is not None:
                    raise CommandError(f"{child.args[2]} exited with code {child.returncode}.")
            time.sleep(0.5)


def daphne_command(host: str, port: int, *, app: str = "helpdesk.serve:application") -> list[str]:
    """daphne as `make run`, the tests and the benchmarks start it (the Dockerfile and
    docker-compose.yml pass the same size limits and handshake timeout). helpdesk.serve warms
    up before serving; a test that needs no model may serve helpdesk.asgi instead."""
    # daphne's default takes messages of up to 1 MiB from anyone who opens a socket.
    size = str(settings.WEBSOCKET_MAX_MESSAGE_BYTES)
    return [sys.executable, "-m", "daphne", "-b", host, "-p", str(port),
            "--websocket-max-message-size", size, "--websocket-max-frame-size", size,
            "--websocket_connect_timeout", str(settings.WEBSOCKET_CONNECT_TIMEOUT),
            app]  # fmt: skip


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _stop(children: list[subprocess.Popen]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
