"""The project's URLs plus two probes whose only database access is the session save that
SessionMiddleware does after the view returned (fault tests only)."""

from django.http import HttpRequest, JsonResponse
from django.urls import path

from energytrack.urls import handler400, handler403, handler404, handler500
from energytrack.urls import urlpatterns as project_urlpatterns

# The error handlers are looked up on the root URLconf: keep the project's.
__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]


def session_touch(request: HttpRequest) -> JsonResponse:
    request.session["reliability_probe"] = request.GET.get("value", "1")
    return JsonResponse({"ok": True})


urlpatterns = [
    path("api/reliability-probe/session", session_touch),
    *project_urlpatterns,
]
