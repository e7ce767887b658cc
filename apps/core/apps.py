from django.apps import AppConfig
from django.urls import register_converter


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.core.converters import AnyCaseUUIDConverter

        # Before any URLconf is imported: every route names its ids ``<id:...>``.
        register_converter(AnyCaseUUIDConverter, "id")
