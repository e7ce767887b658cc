from django.urls import path

from apps.journal import apis

urlpatterns = [
    path("checkin", apis.CheckinApi.as_view(), name="journal-checkin"),
    path("batch", apis.BatchApi.as_view(), name="journal-batch"),
    path("days", apis.DayViewApi.as_view(), name="journal-days"),
    path("<str:kind>", apis.EntryListApi.as_view(), name="journal-list"),
    path("<str:kind>/<id:entry_id>", apis.EntryDetailApi.as_view(), name="journal-detail"),
]
