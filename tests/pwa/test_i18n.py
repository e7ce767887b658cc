"""Dutch and English: the same keys, the same placeholders, and every key the code uses."""

from __future__ import annotations

import re
from pathlib import Path

STATIC = Path(__file__).resolve().parents[2] / "static"
LOCALES = STATIC / "js" / "locales"
ENTRY = re.compile(r'^\s*"(?P<key>[A-Za-z0-9_.-]+)":\s*(?P<value>.+?),?\s*$')
PLACEHOLDER = re.compile(r"\{(\w+)\}")
# t("a.b") and t(`a.${x}`) calls in the app's code.
STATIC_KEY = re.compile(r"""\bt\(\s*"([A-Za-z0-9_.-]+)\"""")
TEMPLATE_KEY = re.compile(r"\bt\(\s*`([A-Za-z0-9_.-]*)\$\{")
# The states a flush can end in (outbox.js): `new Stop("clock", ...)` and `state: "idle"`.
SYNC_STATE = re.compile(r"""\bnew Stop\(\s*"([a-z-]+)"|\bstate:\s*"([a-z-]+)\"""")


def load(language: str) -> dict[str, str]:
    entries: dict[str, str] = {}
    for line in (LOCALES / f"{language}.js").read_text(encoding="utf-8").splitlines():
        match = ENTRY.match(line)
        if match:
            assert match["key"] not in entries, f"{language}: duplicate key {match['key']}"
            entries[match["key"]] = match["value"]
    return entries


def all_keys() -> set[str]:
    return set(load("en")) | set(load("nl"))


def code_files() -> list[Path]:
    return [p for p in (STATIC / "js").rglob("*.js") if "locales" not in p.parts]


def test_dictionaries_are_not_empty() -> None:
    assert len(load("en")) > 300
    assert len(load("nl")) > 300
    # Keys are not all lower case; the patterns above once skipped these.
    assert "common.cachedAt" in load("en")
    assert "common.cachedAt" in load("nl")


def test_both_languages_have_every_key() -> None:
    en, nl = load("en"), load("nl")
    assert sorted(set(en) - set(nl)) == [], "missing in nl.js"
    assert sorted(set(nl) - set(en)) == [], "missing in en.js"


def test_placeholders_and_plural_forms_match() -> None:
    en, nl = load("en"), load("nl")
    mismatched = [
        key
        for key in sorted(set(en) & set(nl))
        if set(PLACEHOLDER.findall(en[key])) != set(PLACEHOLDER.findall(nl[key]))
        or en[key].startswith("{ one:") != nl[key].startswith("{ one:")
    ]
    assert mismatched == []


def test_every_key_used_in_the_code_exists() -> None:
    keys = all_keys()
    used: set[str] = set()
    prefixes: set[str] = set()
    for path in code_files():
        source = path.read_text(encoding="utf-8")
        used.update(STATIC_KEY.findall(source))
        prefixes.update(TEMPLATE_KEY.findall(source))
    assert sorted(used - keys) == []
    for prefix in prefixes:
        assert any(key.startswith(prefix) for key in keys), f"no key starts with {prefix}"


def sync_states() -> set[str]:
    source = (STATIC / "js" / "outbox.js").read_text(encoding="utf-8")
    return {stop or state for stop, state in SYNC_STATE.findall(source)}


def test_every_sync_state_has_a_text() -> None:
    """Settings shows t(`sync.state.${summary.state}`): a state without a text would appear as
    the raw key (it did for "clock")."""
    states = sync_states()
    # The pattern must keep finding the states, or this test would pass on nothing.
    assert {"idle", "signed-out", "offline", "error", "auth", "clock"} <= states
    en, nl = load("en"), load("nl")
    assert sorted(s for s in states if f"sync.state.{s}" not in en) == [], "missing in en.js"
    assert sorted(s for s in states if f"sync.state.{s}" not in nl) == [], "missing in nl.js"


def test_dutch_is_actually_dutch() -> None:
    en, nl = load("en"), load("nl")
    same = [k for k in en if en[k] == nl[k] and not k.startswith("push.") and len(en[k]) > 20]
    assert same == [], "untranslated strings"


def test_every_value_the_server_sends_has_a_text() -> None:
    """Keys built at run time (t(`meeting.status.${status}`)) escape the check above, which
    only sees their prefix: each value the server can send must have its text in both."""
    from apps.coaching.constants import SCOPES
    from apps.journal.models import (
        ActivityEntry,
        AlcoholEntry,
        ExerciseEntry,
        JournalEntry,
        MealEntry,
    )
    from apps.journal.serializers import INPUT_SERIALIZERS, MEAL_TAGS
    from apps.performance.choices import MeetingStatus
    from apps.privacy.models import Category

    kinds = [model.KIND for model in JournalEntry.__subclasses__()]
    needed = (
        [f"meeting.status.{value}" for value in MeetingStatus.values]
        + [f"privacy.scope.{scope}" for scope in SCOPES]
        + [f"category.{c}" for c in Category.values]
        + [f"category.{c}.explain" for c in Category.values]
        + [f"kind.{kind}" for kind in kinds]
        + [f"form.title.{kind}{edit}" for kind in kinds for edit in ("", ".edit")]
        + [f"meal.type.{value}" for value in MealEntry.MealType.values]
        + [f"meal.heaviness.{value}" for value in MealEntry.Heaviness.values]
        + [f"meal.tag.{tag}" for tag in MEAL_TAGS]
        + [f"exercise.intensity.{value}" for value in ExerciseEntry.Intensity.values]
        + [f"alcohol.context.{value}" for value in AlcoholEntry.Context.values]
        + [f"activity.effect.{value}" for value in ActivityEntry.Effect.values]
        # A refused entry names its fields (today.js failureText): every field a journal
        # write takes, and the batch item's own two.
        + [
            f"field.{name}"
            for name in {"id", "kind"}.union(
                *(serializer().fields for serializer in INPUT_SERIALIZERS.values())
            )
        ]
    )
    assert len(kinds) == 6
    en, nl = load("en"), load("nl")
    assert sorted(key for key in needed if key not in en) == [], "missing in en.js"
    assert sorted(key for key in needed if key not in nl) == [], "missing in nl.js"
