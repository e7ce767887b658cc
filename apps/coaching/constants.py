"""Fixed vocabulary of coaching shares: what a rep can share, and nothing else.

No scope covers raw journal entries, alcohol amounts or journal notes; the only free text a
coach can ever read is the personal note the rep writes into a summary themselves.
"""

from __future__ import annotations

ENERGY_TREND = "energy_trend"
SLEEP_REGULARITY = "sleep_regularity"
SALES_QUALITY_TREND = "sales_quality_trend"
CHOSEN_INSIGHTS = "chosen_insights"
PERSONAL_NOTE = "personal_note"

SCOPES: tuple[str, ...] = (
    ENERGY_TREND,
    SLEEP_REGULARITY,
    SALES_QUALITY_TREND,
    CHOSEN_INSIGHTS,
    PERSONAL_NOTE,
)
SCOPE_LABELS: dict[str, str] = {
    ENERGY_TREND: "Weekly energy and its direction",
    SLEEP_REGULARITY: "How regular your sleep was (a category, no times)",
    SALES_QUALITY_TREND: "Qualified meetings and their share",
    CHOSEN_INSIGHTS: "Insights you pick",
    PERSONAL_NOTE: "A note you write yourself each week",
}
#: Scopes that become a computed section of a summary (the note is a field of its own).
SECTION_SCOPES: tuple[str, ...] = (
    ENERGY_TREND,
    SLEEP_REGULARITY,
    SALES_QUALITY_TREND,
    CHOSEN_INSIGHTS,
)

DEFAULT_EXPIRY_DAYS = 90
MAX_EXPIRY_DAYS = 365
MAX_CHOSEN_INSIGHTS = 10
MAX_NOTE_LENGTH = 2000
#: An unapproved draft is withdrawn after this many days (COACHING_DRAFT_TTL_DAYS overrides).
DEFAULT_DRAFT_TTL_DAYS = 14

# Grant states (computed from the timestamps, see ShareGrant.status_at).
PENDING = "pending"
INVITATION_EXPIRED = "invitation_expired"
ACTIVE = "active"
EXPIRED = "expired"
REVOKED = "revoked"
GRANT_STATUSES: tuple[str, ...] = (PENDING, INVITATION_EXPIRED, ACTIVE, EXPIRED, REVOKED)

# Summary states.
DRAFT = "draft"
APPROVED = "approved"
DRAFT_EXPIRED = "expired"
SUMMARY_STATUSES: tuple[str, ...] = (DRAFT, APPROVED, DRAFT_EXPIRED)

# What a coach did when the read was logged.
READ_LIST = "list"
READ_DETAIL = "detail"
READ_ACTIONS: tuple[str, ...] = (READ_LIST, READ_DETAIL)

# Directions of a weekly trend compared with the four weeks before.
DIRECTIONS: tuple[str, ...] = ("up", "down", "steady")
SLEEP_CATEGORIES: tuple[str, ...] = (
    "regular",
    "somewhat_irregular",
    "irregular",
    "not_enough_data",
)
