"""`manage.py devstack up|down`: start or stop the embedded services under VAR_DIR.

Run by manage.py before Django loads: settings need the services' addresses, and `down`
must not start what it is about to stop."""

import argparse

from helpdesk import devstack


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="manage.py devstack",
        description="Start or stop the embedded services (Postgres, Redis, LLM) under var/.",
    )
    parser.add_argument("action", choices=["up", "down"])
    action = parser.parse_args(argv).action
    if action == "up":
        try:
            urls = devstack.ensure_all()
        except devstack.DevstackError as exc:
            devstack.stop_started()
            print(f"CommandError: {exc}")
            return 1
        for name, url in urls.items():
            print(f"{name:9} {url}")
        # Started by a short-lived command, they are meant to outlive it.
        devstack.leave_running()
    else:
        devstack.stop_all()
        print("Stopped the embedded services.")
    return 0
