from django.urls import URLPattern, path, re_path

from apps.pwa import views

urlpatterns: list[URLPattern] = [
    path("", views.root, name="pwa-root"),
    path("app/", views.shell, name="pwa-shell"),
    re_path(r"^app/(?P<screen>[a-z-]+)/?$", views.shell, name="pwa-screen"),
    path("manifest.webmanifest", views.manifest, name="pwa-manifest"),
    path("sw.js", views.service_worker, name="pwa-service-worker"),
]
