from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    # Above tickets and chat: erasure and retention touch conversations and tickets alike.
    name = "privacy"
