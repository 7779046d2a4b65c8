from django.apps import AppConfig


class TranscriptsConfig(AppConfig):
    name = "transcripts"
    verbose_name = "Transcript review"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (sign-in audit and SQLite tuning)
