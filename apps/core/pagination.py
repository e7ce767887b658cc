from rest_framework.pagination import CursorPagination


class CreatedCursorPagination(CursorPagination):
    page_size = 50
    max_page_size = 500
    page_size_query_param = "page_size"
    ordering = "-created_at"


class TimeCursorPagination(CursorPagination):
    """Journal lists: newest entry first, stable across inserts (cursor, not offset)."""

    page_size = 50
    max_page_size = 500
    page_size_query_param = "page_size"
    ordering = ("-occurred_at", "-id")
