from django.urls import path

from apps.privacy import apis

urlpatterns = [
    path("privacy/consents", apis.ConsentListApi.as_view(), name="consents"),
    path("privacy/consents/history", apis.ConsentHistoryApi.as_view(), name="consent-history"),
    path(
        "privacy/consents/<str:category>/grant",
        apis.ConsentGrantApi.as_view(),
        name="consent-grant",
    ),
    path(
        "privacy/consents/<str:category>/withdraw",
        apis.ConsentWithdrawApi.as_view(),
        name="consent-withdraw",
    ),
    path("privacy/export", apis.ExportApi.as_view(), name="privacy-export"),
    path("privacy/exports", apis.ExportRequestApi.as_view(), name="privacy-exports"),
    path(
        "privacy/exports/<id:export_id>",
        apis.ExportDetailApi.as_view(),
        name="privacy-export-detail",
    ),
    path(
        "privacy/exports/download/<str:token>",
        apis.ExportDownloadApi.as_view(),
        name="privacy-export-download",
    ),
    path("privacy/import", apis.ImportApi.as_view(), name="privacy-import"),
    path("privacy/preferences", apis.PrivacyPreferenceApi.as_view(), name="privacy-preferences"),
    path("privacy/account/delete", apis.AccountDeleteApi.as_view(), name="account-delete"),
]
