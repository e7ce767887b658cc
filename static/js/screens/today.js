// Today: one tap logs energy; in the morning one more tap adds last night's sleep and
// yesterday evening's drinks; quick forms for the rest; today's entries, editable.
import { h, replace, redraw, focusOn, segmented, toast, yieldToBrowser } from "../dom.js";
import { t, has, fmtTime, fmtDate, fmtNumber } from "../i18n.js";
import { request, OfflineError, isOffline, problemText } from "../api.js";
import { session, allowed, loadConsents } from "../session.js";
import * as sync from "../sync.js";
import { addDays, deviceZone, entryDay, localDay, dayToDate, atTime } from "../dates.js";
import { openEntryForm, lastNight, rememberLastNight, sleepInstants } from "../forms.js";

const KINDS = ["energy", "sleep", "meal", "exercise", "alcohol", "activity"];
const QUICK = [
  ["meal", null],
  ["exercise", null],
  ["activity", null],
  ["energy", "note"],
  ["sleep", null],
  ["alcohol", null],
];
const MORNING_UNTIL_HOUR = 13;

function boundary() {
  return (session.me && session.me.day_boundary_hour) ?? 4;
}

export function summary(entry) {
  const n = (value) => fmtNumber(Number(value));
  switch (entry.kind) {
    case "energy": {
      const parts = [];
      if (entry.level) parts.push(t("entry.energy", { level: entry.level }));
      if (entry.focus) parts.push(t("entry.focus", { value: entry.focus }));
      if (entry.mood) parts.push(t("entry.mood", { value: entry.mood }));
      if (!parts.length) parts.push(t("entry.note"));
      return parts.join(" · ");
    }
    case "sleep": {
      const minutes = entry.duration_minutes ?? (entry.bedtime ? Math.round((new Date(entry.occurred_at) - new Date(entry.bedtime)) / 60000) : null);
      return minutes !== null
        ? t("entry.sleep", { hours: Math.floor(minutes / 60), minutes: String(minutes % 60).padStart(2, "0") })
        : t("kind.sleep");
    }
    case "meal": {
      const parts = [entry.meal_type ? t(`meal.type.${entry.meal_type}`) : t("kind.meal")];
      if (entry.heaviness) parts.push(t(`meal.heaviness.${entry.heaviness}`));
      for (const tag of entry.tags || []) parts.push(t(`meal.tag.${tag}`));
      return parts.join(" · ");
    }
    case "exercise": {
      const typeKey = `exercise.type.${entry.exercise_type}`;
      const parts = [entry.exercise_type ? (has(typeKey) ? t(typeKey) : entry.exercise_type) : t("kind.exercise")];
      if (entry.duration_minutes) parts.push(t("entry.minutes", { count: entry.duration_minutes }));
      if (entry.intensity) parts.push(t(`exercise.intensity.${entry.intensity}`));
      return parts.join(" · ");
    }
    case "alcohol":
      return t("entry.drinks", { count: Number(entry.standard_drinks ?? 0), n: n(entry.standard_drinks ?? 0) });
    case "activity": {
      const parts = [entry.what || t("kind.activity")];
      if (entry.duration_minutes) parts.push(t("entry.minutes", { count: entry.duration_minutes }));
      if (entry.effect) parts.push(t(`activity.effect.${entry.effect}`));
      return parts.join(" · ");
    }
    default:
      return entry.kind;
  }
}

// Why the server refused an entry, in the rep's language: the server's detail is English, so
// the text comes from the problem's code (a batch item's `code`, or the end of a problem's
// `type`). Any other refusal is worded as api.js words them (its code or status; the English
// detail only in an English app).
function failureText(failure) {
  if (!failure) return t("error.generic");
  const code = failure.code || (typeof failure.type === "string" ? failure.type.split("/").pop() : "");
  if (code === "consent-required" && has(`category.${failure.category}`)) {
    return t("sync.failure.consent", { category: t(`category.${failure.category}`).toLowerCase() });
  }
  if (code === "invalid" || code === "validation-error") {
    // Field names as the rep knows them ("drinks", not "standard_drinks"); a nested error
    // ("tags.0") is its field's.
    const names = [...new Set(Object.keys(failure.errors || {}).map((name) => name.split(".")[0]))];
    const fields = names.map((name) => (has(`field.${name}`) ? t(`field.${name}`) : name));
    return fields.length ? t("sync.failure.invalid.fields", { fields: fields.join(", ") }) : t("sync.failure.invalid");
  }
  if (code === "not-found") return t("sync.failure.notfound");
  if (code === "conflict") return t("sync.failure.conflict");
  return problemText(failure.status, failure);
}

function flatten(days) {
  const out = [];
  for (const day of days || []) {
    for (const kind of KINDS) for (const entry of (day.entries && day.entries[kind]) || []) out.push({ ...entry, kind, local_date: day.local_date });
  }
  return out;
}

// Server entries, overlaid with what is still waiting in the outbox (newer by definition),
// and with what was sent since the server's list was read (`sent`: the list came from the
// service worker's cache because the read after a sync failed; what was just sent is stored
// but not in that copy, and must not vanish from the screen).
export function merge(serverEntries, pending, failed, sent = []) {
  const byId = new Map(serverEntries.map((entry) => [entry.id, entry]));
  for (const item of [...sent.map((entry) => ({ ...entry, wasSent: true })), ...pending]) {
    if (!item.kind) continue;
    if (item.op === "delete") byId.delete(item.id);
    else if (item.op === "upsert") {
      const stored = { ...(byId.get(item.id) || {}) };
      // The server works a night's length out from its times: a queued edit of the times
      // makes the stored length wrong until it syncs (the summary then uses the times).
      if (item.kind === "sleep" && !("duration_minutes" in item.body) && ("bedtime" in item.body || "occurred_at" in item.body)) {
        delete stored.duration_minutes;
      }
      byId.set(item.id, {
        ...stored,
        ...item.body,
        id: item.id,
        kind: item.kind,
        local_date: entryDay(item.kind, item.body.occurred_at, boundary()),
        pending: !item.wasSent,
      });
    }
  }
  for (const item of failed) {
    if (item.kind && item.op === "upsert" && byId.has(item.id)) byId.get(item.id).failed = item.failure;
  }
  return [...byId.values()].sort((a, b) => new Date(b.occurred_at) - new Date(a.occurred_at));
}

function energyBody(level) {
  const now = new Date().toISOString();
  return { occurred_at: now, client_updated_at: now, tz: deviceZone(), level };
}

export async function render(main) {
  const today = localDay(new Date(), boundary());
  const yesterday = addDays(today, -1);
  const listHost = h("div", { class: "entries-host" }, h("p", { class: "muted" }, t("common.loading")));
  const morningHost = h("div");
  const syncHost = h("div");
  const confirmation = h("p", { class: "confirmation", role: "status" });
  let serverEntries = [];
  let cachedAt = null;
  let loaded = false;
  // When the last list that came from the server itself was asked for (not a cached copy):
  // what was sent after that may be missing from the list shown (see merge).
  let freshReadAt = 0;

  const energyButtons = [];
  for (let level = 1; level <= 9; level += 1) {
    energyButtons.push(
      h("button", {
        type: "button",
        class: `energy-level level-${level}`,
        "aria-label": t("today.energy.button", { level }),
        onclick: () => logEnergy(level),
      }, String(level)),
    );
  }
  const energySection = h(
    "section",
    { class: "card", "aria-labelledby": "energy-title" },
    h("h2", { id: "energy-title" }, t("today.energy.title")),
    h("p", { class: "hint", id: "energy-scale" }, t("today.energy.scale")),
    h("div", { class: "energy-grid", role: "group", "aria-labelledby": "energy-title", "aria-describedby": "energy-scale" }, energyButtons),
    confirmation,
  );

  async function logEnergy(level) {
    if (!allowed("energy")) {
      openEntryForm("energy", { onDone: refresh });
      return;
    }
    const id = globalThis.ETOutbox.uuid();
    await sync.upsertEntry("energy", id, energyBody(level));
    confirmation.textContent = t("today.energy.logged", { level, time: fmtTime(new Date()) });
    toast(!isOffline() ? t("toast.energy", { level }) : t("toast.saved.offline"), {
      action: t("toast.undo"),
      onAction: async () => {
        await sync.deleteEntry("energy", id);
        confirmation.textContent = t("today.energy.undone");
        refresh();
      },
    });
    refresh();
  }

  const quickSection = h(
    "section",
    { class: "card", "aria-labelledby": "quick-title" },
    h("h2", { id: "quick-title" }, t("today.quick.title")),
    h(
      "div",
      { class: "quick-grid" },
      QUICK.map(([kind, mode]) =>
        h("button", { type: "button", class: "button quick", onclick: () => openEntryForm(kind, { mode, onDone: refresh }) }, t(`quick.${mode || kind}`)),
      ),
    ),
  );

  replace(
    main,
    h("h1", null, t("screen.today"), h("span", { class: "subtitle" }, fmtDate(dayToDate(today)))),
    energySection,
    morningHost,
    quickSection,
    h("section", { class: "card", "aria-labelledby": "entries-title" }, h("h2", { id: "entries-title" }, t("today.entries.title")), listHost),
    syncHost,
  );

  function morningWanted(entries) {
    const hasSleep = entries.some((entry) => entry.kind === "sleep" && entry.local_date === today);
    const dismissed = localStorage.getItem("et.morningDismissed") === today;
    return !hasSleep && !dismissed && new Date().getHours() < MORNING_UNTIL_HOUR && (allowed("sleep") || allowed("alcohol"));
  }

  // Built once and kept while it is wanted: a sync finishing must not reset what the rep is
  // filling in.
  let morningEl = null;
  function updateMorning(entries) {
    const wanted = morningWanted(entries);
    if (wanted && !morningEl) {
      morningEl = morningCard();
      replace(morningHost, morningEl);
    } else if (!wanted && morningEl) {
      morningEl = null;
      replace(morningHost);
    }
  }

  function morningCard() {
    const wantSleep = allowed("sleep");
    const wantDrinks = allowed("alcohol");
    const last = lastNight();
    const form = h("form", { class: "morning-form" });
    if (wantSleep) {
      form.append(
        h(
          "div",
          { class: "row" },
          h("div", { class: "field" }, h("label", { for: "morning-bed" }, t("morning.bed")), h("input", { type: "time", id: "morning-bed", name: "bedtime", value: last.bed, required: true })),
          h("div", { class: "field" }, h("label", { for: "morning-wake" }, t("morning.wake")), h("input", { type: "time", id: "morning-wake", name: "wake", value: last.wake, required: true })),
        ),
      );
    }
    if (wantDrinks) {
      form.append(segmented("drinks", t("morning.drinks"), [["0", "0"], ["1", "1"], ["2", "2"], ["3", "3"], ["4", "4"], ["6", "5+"]], "0"));
    }
    // Ids made once for the card: a double tap, or trying again after the drinks could not be
    // stored, overwrites the same two entries instead of adding more.
    const sleepId = globalThis.ETOutbox.uuid();
    const drinksId = globalThis.ETOutbox.uuid();
    const submit = h("button", { type: "submit", class: "button primary" }, t("morning.save"));
    const formError = h("p", { class: "form-error", role: "alert", hidden: true });
    form.append(
      formError,
      h(
        "div",
        { class: "actions" },
        h("button", {
          type: "button",
          class: "button",
          onclick: () => {
            localStorage.setItem("et.morningDismissed", today);
            refresh();
            focusOn(document.getElementById("quick-title")); // the card goes away: on to the next one
          },
        }, t("morning.later")),
        submit,
      ),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const stamp = new Date().toISOString();
      const tz = deviceZone();
      submit.disabled = true;
      formError.hidden = true;
      try {
        if (wantSleep) {
          const { bed, wake } = sleepInstants(today, form.elements.bedtime.value, form.elements.wake.value);
          rememberLastNight({ bed: form.elements.bedtime.value, wake: form.elements.wake.value });
          await sync.upsertEntry("sleep", sleepId, { occurred_at: wake.toISOString(), bedtime: bed.toISOString(), tz, client_updated_at: stamp });
        }
        if (wantDrinks) {
          const drinks = form.querySelector('input[name="drinks"]:checked').value;
          // Yesterday evening, 21:00 local: the drinks count for yesterday's local day.
          await sync.upsertEntry("alcohol", drinksId, { occurred_at: atTime(yesterday, "21:00").toISOString(), standard_drinks: drinks, tz, client_updated_at: stamp });
        }
      } catch (error) {
        console.warn(error);
        formError.textContent = t("form.error.notstored");
        formError.hidden = false;
        return;
      } finally {
        submit.disabled = false;
      }
      toast(t("toast.lastnight"));
      localStorage.setItem("et.morningDismissed", today);
      refresh();
      focusOn(document.getElementById("entries-title")); // the card goes away: on to the entries
    });
    return h(
      "section",
      { class: "card morning", "aria-labelledby": "morning-title" },
      h("h2", { id: "morning-title" }, t("morning.title")),
      h("p", { class: "hint" }, t("morning.hint")),
      form,
    );
  }

  function entryButton(entry) {
    const badges = [];
    if (entry.failed) badges.push(h("span", { class: "badge badge-failed" }, t("entry.failed")));
    else if (entry.pending) badges.push(h("span", { class: "badge badge-pending" }, t("entry.pending")));
    return h(
      "li",
      null,
      h(
        "button",
        {
          type: "button",
          class: "entry",
          dataset: { focus: `entry-${entry.id}` },
          onclick: () => openEntryForm(entry.kind, { entry, mode: entry.kind === "energy" && !entry.level ? "note" : null, onDone: refresh }),
        },
        h("span", { class: "entry-time" }, fmtTime(new Date(entry.occurred_at))),
        h("span", { class: "entry-kind" }, t(`kind.${entry.kind}`)),
        h("span", { class: "entry-text" }, summary(entry)),
        entry.note ? h("span", { class: "entry-note" }, entry.note) : null,
        badges,
        h("span", { class: "visually-hidden" }, t("entry.edit")),
      ),
    );
  }

  function renderList(entries) {
    const groups = [
      [today, t("today.entries.today")],
      [yesterday, t("today.entries.yesterday")],
    ];
    const blocks = [];
    if (cachedAt) blocks.push(h("p", { class: "notice" }, t("common.cachedAt", { time: fmtTime(new Date(cachedAt)) })));
    for (const [day, label] of groups) {
      const items = entries.filter((entry) => entry.local_date === day);
      blocks.push(h("h3", null, label));
      blocks.push(items.length ? h("ul", { class: "entry-list" }, items.map(entryButton)) : h("p", { class: "muted" }, t("today.entries.none")));
    }
    // Redrawn after every save and sync: the entry that had focus keeps it (a deleted one
    // hands it to the list's heading).
    redraw(listHost, blocks, () => document.getElementById("entries-title"));
  }

  async function renderSync() {
    const { pending, failed } = await sync.status();
    if (!pending.length && !failed.length) {
      replace(syncHost);
      return;
    }
    const items = [];
    if (pending.length) {
      items.push(h("p", null, !isOffline() ? t("sync.pending.online", { count: pending.length }) : t("sync.pending.offline", { count: pending.length })));
    }
    if (failed.length) {
      items.push(
        h("p", null, t("sync.failed.intro", { count: failed.length })),
        h(
          "ul",
          { class: "failed-list" },
          failed.map((item) =>
            h(
              "li",
              null,
              h("span", null, item.kind ? t(`kind.${item.kind}`) : t("sync.item.other"), ": ", failureText(item.failure)),
              h("span", { class: "actions" },
                h("button", { type: "button", class: "button small", onclick: () => sync.retry(item.key) }, t("sync.retry")),
                h("button", { type: "button", class: "button small", onclick: () => sync.discard(item.key) }, t("sync.discard")),
              ),
            ),
          ),
        ),
      );
    }
    replace(syncHost, h("section", { class: "card sync-card", "aria-labelledby": "sync-title" }, h("h2", { id: "sync-title" }, t("sync.title")), items));
  }

  const consentsReady = loadConsents().catch(() => null);
  let refreshing = null;
  async function refresh({ fetchServer = true } = {}) {
    if (refreshing) return refreshing;
    refreshing = (async () => {
      if (fetchServer) {
        try {
          const askedAt = Date.now();
          const response = await request(`/journal/days?date_from=${yesterday}&date_to=${today}`);
          serverEntries = flatten(response.data.days);
          cachedAt = response.cachedAt || null;
          loaded = true;
          if (!cachedAt) freshReadAt = askedAt;
        } catch (error) {
          if (!(error instanceof OfflineError)) console.warn(error);
          cachedAt = null;
        }
      }
      await consentsReady;
      const { pending, failed, sent } = await sync.status();
      const entries = merge(serverEntries, pending, failed, sent.filter((item) => item.sentAt >= freshReadAt));
      updateMorning(entries);
      await yieldToBrowser();
      if (!loaded && !entries.length) {
        replace(listHost, h("p", { class: "muted" }, !isOffline() ? t("error.generic") : t("today.entries.offline")));
      } else renderList(entries);
      await renderSync();
    })().finally(() => {
      refreshing = null;
    });
    return refreshing;
  }

  let lastPending = -1;
  const stop = sync.onChange(async () => {
    const { pending } = await sync.status();
    // Items left the outbox: the server has them now, so ask it again.
    const fetchServer = pending.length < lastPending;
    lastPending = pending.length;
    refresh({ fetchServer });
  });
  refresh();
  return stop;
}
