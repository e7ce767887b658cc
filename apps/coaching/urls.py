from django.urls import path

from apps.coaching import apis

urlpatterns = [
    path("grants", apis.GrantListApi.as_view(), name="coaching-grants"),
    path("grants/<id:grant_id>", apis.GrantDetailApi.as_view(), name="coaching-grant"),
    path(
        "grants/<id:grant_id>/revoke",
        apis.GrantRevokeApi.as_view(),
        name="coaching-grant-revoke",
    ),
    path("summaries", apis.SummaryListApi.as_view(), name="coaching-summaries"),
    path("summaries/<id:summary_id>", apis.SummaryDetailApi.as_view(), name="coaching-summary"),
    path(
        "summaries/<id:summary_id>/approve",
        apis.SummaryApproveApi.as_view(),
        name="coaching-summary-approve",
    ),
    path("access-log", apis.AccessLogApi.as_view(), name="coaching-access-log"),
    path("coach/summaries", apis.CoachSummaryListApi.as_view(), name="coach-summaries"),
    path(
        "coach/summaries/<id:summary_id>",
        apis.CoachSummaryDetailApi.as_view(),
        name="coach-summary",
    ),
    path(
        "invitations/accept",
        apis.InvitationAcceptApi.as_view(),
        name="coaching-invitation-accept",
    ),
]
