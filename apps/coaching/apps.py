from django.apps import AppConfig


class CoachingConfig(AppConfig):
    name = "apps.coaching"
    label = "coaching"
    default_auto_field = "django.db.models.BigAutoField"
