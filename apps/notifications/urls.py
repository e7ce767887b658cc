from django.urls import path

from apps.notifications import apis

urlpatterns = [
    path("", apis.NotificationListApi.as_view(), name="notifications"),
    path("unread-count", apis.UnreadCountApi.as_view(), name="notifications-unread-count"),
    path("read-all", apis.ReadAllApi.as_view(), name="notifications-read-all"),
    path("preferences", apis.PreferencesApi.as_view(), name="notifications-preferences"),
    path("push/public-key", apis.PushPublicKeyApi.as_view(), name="notifications-push-key"),
    path(
        "push/subscriptions",
        apis.PushSubscriptionListApi.as_view(),
        name="notifications-push-subscriptions",
    ),
    path(
        "push/subscriptions/<id:subscription_id>",
        apis.PushSubscriptionDetailApi.as_view(),
        name="notifications-push-subscription",
    ),
    path(
        "push/unsubscribe",
        apis.PushUnsubscribeApi.as_view(),
        name="notifications-push-unsubscribe",
    ),
    path(
        "email/unsubscribe",
        apis.EmailUnsubscribeApi.as_view(),
        name="notifications-email-unsubscribe",
    ),
    path("<id:notification_id>", apis.NotificationDetailApi.as_view(), name="notification"),
    path(
        "<id:notification_id>/read",
        apis.NotificationReadApi.as_view(),
        name="notification-read",
    ),
    path(
        "<id:notification_id>/dismiss",
        apis.NotificationDismissApi.as_view(),
        name="notification-dismiss",
    ),
]
