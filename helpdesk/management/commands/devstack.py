from django.core.management.base import BaseCommand

from helpdesk import devstack


class Command(BaseCommand):
    help = "Start or stop the embedded services (Postgres, Redis, LLM) under var/."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["up", "down"])

    def handle(self, *args, action: str, **options):
        if action == "up":
            for name, url in devstack.ensure_all().items():
                self.stdout.write(f"{name:9} {url}")
            # Started by a short-lived command, they are meant to outlive it.
            devstack._started.clear()
        elif action == "down":
            devstack.stop_all()
            self.stdout.write("Stopped the embedded services.")
