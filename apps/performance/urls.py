from django.urls import path

from apps.performance import apis

urlpatterns = [
    path("calls", apis.CallStatsListApi.as_view(), name="performance-calls"),
    path("calls/<id:stats_id>", apis.CallStatsDetailApi.as_view(), name="performance-call"),
    path("meetings", apis.MeetingListApi.as_view(), name="performance-meetings"),
    path("meetings/<id:meeting_id>", apis.MeetingDetailApi.as_view(), name="performance-meeting"),
    path("daily", apis.DailyApi.as_view(), name="performance-daily"),
    path("imports", apis.ImportListCreateApi.as_view(), name="performance-imports"),
    path("imports/<id:import_id>", apis.ImportDetailApi.as_view(), name="performance-import"),
    path("teams/<id:team_id>/sales", apis.TeamSalesApi.as_view(), name="performance-team-sales"),
    path(
        "teams/<id:team_id>/crm-connections",
        apis.TeamConnectionListApi.as_view(),
        name="performance-crm-connections",
    ),
    path(
        "crm-connections/<id:connection_id>",
        apis.ConnectionDetailApi.as_view(),
        name="performance-crm-connection",
    ),
    path(
        "crm-connections/<id:connection_id>/rotate",
        apis.ConnectionRotateApi.as_view(),
        name="performance-crm-connection-rotate",
    ),
    path(
        "webhooks/<id:connection_id>",
        apis.WebhookApi.as_view(),
        name="performance-webhook",
    ),
]
