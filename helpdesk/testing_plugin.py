"""The test run's embedded services, started before pytest-django loads the settings.

Registered with `-p helpdesk.testing_plugin` (pyproject.toml's addopts): the root conftest.py
loads too late, after pytest-django has read the settings in its own
pytest_load_initial_conftests. Whatever the environment already names (DATABASE_URL, ...) is
used as it is; the rest is started (or reused) under HELPDESK_VAR_DIR, the LLM included."""

import pytest

from helpdesk import devstack


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config, parser, args):
    # A wrapper runs before every plain implementation, pytest-django's (tryfirst) included.
    devstack.hand_over(llm=True)
    return (yield)


def pytest_unconfigure(config):
    # Stop only what this test run started, never a stack that `make run` is using.
    devstack.stop_started()
