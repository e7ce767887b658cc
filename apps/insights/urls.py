from django.urls import path

from apps.insights import apis

urlpatterns = [
    path("", apis.InsightListApi.as_view(), name="insights"),
    path("trends/<str:series>", apis.TrendApi.as_view(), name="insight-trend"),
    path("<id:insight_id>", apis.InsightDetailApi.as_view(), name="insight"),
    path("<id:insight_id>/status", apis.InsightStatusApi.as_view(), name="insight-status"),
    path("<id:insight_id>/feedback", apis.InsightFeedbackApi.as_view(), name="insight-feedback"),
]
