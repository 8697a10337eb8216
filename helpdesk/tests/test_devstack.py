import os
import socket
import subprocess
import sys

import pytest
from django.conf import settings

from helpdesk import devstack
from helpdesk.testing import child_env


def test_it_reports_a_taken_llm_port_clearly_instead_of_hanging(monkeypatch):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setenv("LLM_PORT", str(port))
        with pytest.raises(devstack.DevstackError, match=f"LLM_PORT={port} is already in use"):
            devstack.llm_port()


def test_it_picks_a_free_port_when_none_is_asked_for(monkeypatch):
    monkeypatch.delenv("LLM_PORT", raising=False)
    port = devstack.llm_port()
    assert devstack.port_free(port)


def test_a_dead_pid_is_not_mistaken_for_a_running_service():
    assert not devstack.pid_alive(None)
    assert not devstack.pid_alive(2**22 + 12345)


def test_the_embedded_services_are_up_and_reused(settings):
    # The test run started them (helpdesk/testing_plugin.py); asking again returns the same.
    assert devstack.postgres_url().endswith("/helpdesk?host=" + str(devstack.VAR_DIR / "pg"))
    assert devstack.redis_url() == settings.REDIS_URL
    assert devstack.status()["postgres"] and devstack.status()["redis"]


def test_the_llm_gguf_comes_from_the_installed_wheel():
    path = devstack.gguf_path()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.stat().st_size > 50_000_000


def test_the_embedded_servers_context_is_what_the_budget_assumes(settings):
    # The window handed over with the embedded server is the one it runs with.
    command = devstack.llm_server_command(model="model.gguf", port=1)
    assert int(command[command.index("--n_ctx") + 1]) == settings.LLM_CONTEXT_TOKENS


def test_it_hands_over_only_what_the_environment_leaves_unset(monkeypatch):
    # Everything is set for the test run: nothing to start, nothing to hand over.
    assert devstack.environ(llm=True) == {}
    monkeypatch.delenv("SECRET_KEY")
    monkeypatch.delenv("LLM_BASE_URL")
    monkeypatch.delenv("LLM_MODEL", raising=False)
    env = devstack.environ(llm=False)
    assert env["SECRET_KEY"] == (devstack.VAR_DIR / "secret_key").read_text().strip()
    # Reused when it runs, as it does for the tests, with the embedded server's model.
    assert env["LLM_BASE_URL"].startswith("http://127.0.0.1:")
    assert env["LLM_MODEL"] == devstack.LLM_ALIAS
    assert "DATABASE_URL" not in env and "REDIS_URL" not in env


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_devstack_down_starts_nothing_on_its_way(tmp_path):
    env = {"PATH": os.environ["PATH"], "HELPDESK_VAR_DIR": str(tmp_path / "var")}
    result = manage("devstack", "down", env=env)
    assert result.returncode == 0, result.stderr
    assert "Stopped the embedded services." in result.stdout
    assert not (tmp_path / "var" / "pg").exists()
    assert not (tmp_path / "var" / "redis").exists()


def test_manage_py_keeps_the_services_it_is_given_and_fills_in_the_rest():
    env = {name: value for name, value in child_env().items() if name != "SECRET_KEY"}
    show = "from django.conf import settings as s; print(s.DATABASE_URL); print(s.SECRET_KEY)"
    result = manage("shell", "-c", show, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == [env["DATABASE_URL"], devstack.secret_key()]
