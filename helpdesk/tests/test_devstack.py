import socket

import pytest

from helpdesk import devstack


def test_it_reports_a_taken_llm_port_clearly_instead_of_hanging(monkeypatch):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setenv("LLM_PORT", str(port))
        with pytest.raises(devstack.DevstackError, match=f"LLM_PORT={port} is already in use"):
            devstack._llm_port()


def test_it_picks_a_free_port_when_none_is_asked_for(monkeypatch):
    monkeypatch.delenv("LLM_PORT", raising=False)
    port = devstack._llm_port()
    assert devstack._port_free(port)


def test_a_dead_pid_is_not_mistaken_for_a_running_service():
    assert not devstack._pid_alive(None)
    assert not devstack._pid_alive(2**22 + 12345)


def test_the_embedded_services_are_up_and_reused(settings):
    # Settings already started them; asking again returns the same addresses.
    assert devstack.postgres_url().endswith("/helpdesk?host=" + str(devstack.VAR_DIR / "pg"))
    assert devstack.redis_url() == settings.REDIS_URL
    assert devstack.status()["postgres"] and devstack.status()["redis"]


def test_the_llm_gguf_comes_from_the_installed_wheel():
    path = devstack.gguf_path()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.stat().st_size > 50_000_000
