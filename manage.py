#!/usr/bin/env python
import os
import sys


def hand_over_embedded_services(command: str) -> None:
    """Start (or reuse) the embedded services for every variable settings require that the
    environment leaves unset, and set them, before Django loads. Only `run` starts the LLM;
    other commands reuse it when it runs (helpdesk/devstack). With everything set, as in
    production, the development stack is not even imported."""
    from helpdesk.environment import REQUIRED

    if all(os.environ.get(name) for name in REQUIRED):
        return
    from helpdesk import devstack

    if command == "run" and not os.environ.get("LLM_BASE_URL"):
        print("Starting the embedded LLM server (SmolLM2-135M, llama.cpp)…", flush=True)
    try:
        devstack.hand_over(llm=command == "run")
    except devstack.DevstackError as exc:
        # One clear line and a stop, rather than a desk that answers every question with
        # the fallback while the server dies and restarts.
        sys.exit(f"CommandError: {exc}")


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "devstack":
        # Before Django: `devstack down` must not start what it is about to stop.
        from helpdesk.devstack.cli import main

        sys.exit(main(sys.argv[2:]))
    hand_over_embedded_services(command)
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
