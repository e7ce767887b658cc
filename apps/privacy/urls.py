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
    path("privacy/account/delete", apis.AccountDeleteApi.as_view(), name="account-delete"),
]
