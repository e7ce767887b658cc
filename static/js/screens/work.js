// Work: today's call figures and meetings with the BANT checkboxes, in under 30 seconds.
// Writes are idempotent PUTs by client UUID through the outbox, so they work offline too.
import { h, replace, redraw, focusOn, field, segmented, checkboxes, toast, nextId } from "../dom.js";
import { t, fmtTime, fmtDate, fmtNumber, fmtInput, parseDecimal } from "../i18n.js";
import { request, OfflineError, isOffline } from "../api.js";
import { session } from "../session.js";
import * as sync from "../sync.js";
import { localDay, dayToDate, deviceZone, atTime, timeOf } from "../dates.js";

const CALLS_URL = "/api/v1/performance/calls/";
const MEETINGS_URL = "/api/v1/performance/meetings/";
const STATUSES = ["held", "no_show", "cancelled", "rescheduled"];
const BANT = ["budget", "authority", "need", "timeline"];

function boundary() {
  return (session.me && session.me.day_boundary_hour) ?? 4;
}

function number(name, value, attrs = {}) {
  return h("input", { type: "number", name, inputmode: "numeric", min: 0, step: 1, value: value ?? 0, required: true, ...attrs });
}

function callsId(day) {
  const key = `et.calls.${day}`;
  let id = localStorage.getItem(key);
  if (!id) {
    id = globalThis.ETOutbox.uuid();
    localStorage.setItem(key, id);
  }
  return id;
}

// Queue a form's write with its Save button disabled (no double tap); when the phone cannot
// store it, say so in the form and keep what was typed. True when it was stored.
async function stored(form, write) {
  const submit = form.querySelector('button[type="submit"]');
  let error = form.querySelector(".form-error");
  if (!error) {
    error = h("p", { class: "form-error", role: "alert", hidden: true });
    submit.parentElement.before(error);
  }
  submit.disabled = true;
  error.hidden = true;
  try {
    await write();
    return true;
  } catch (failure) {
    console.warn(failure);
    error.textContent = t("form.error.notstored");
    error.hidden = false;
    return false;
  } finally {
    submit.disabled = false;
  }
}

// Deal values travel in the currency's minor units: cents for the euro, yen for the yen (no
// minor unit), fils for the dinar. Intl knows each currency's digits (ISO 4217).
export function minorDigits(currency) {
  try {
    return new Intl.NumberFormat("en", { style: "currency", currency: currency || "EUR" }).resolvedOptions().maximumFractionDigits;
  } catch {
    return 2; // not a currency code: the form's pattern refuses it before saving
  }
}

export function meetingSummary(meeting) {
  const parts = [t(`meeting.status.${meeting.status}`)];
  const score = BANT.filter((flag) => meeting[flag]).length;
  if (meeting.status === "held") parts.push(t("work.meeting.bant", { score }));
  if (meeting.decision_maker_present) parts.push(t("work.meeting.dm.short"));
  if (meeting.deal_value_cents) parts.push(new Intl.NumberFormat(document.documentElement.lang, { style: "currency", currency: meeting.currency || "EUR" }).format(meeting.deal_value_cents / 10 ** minorDigits(meeting.currency)));
  return parts.join(" · ");
}

export async function render(main) {
  const today = localDay(new Date(), boundary());
  const callsHost = h("div", null, h("p", { class: "muted" }, t("common.loading")));
  const meetingsHost = h("div", null, h("p", { class: "muted" }, t("common.loading")));
  const formHost = h("div");
  replace(
    main,
    h("h1", null, t("screen.work"), h("span", { class: "subtitle" }, fmtDate(dayToDate(today)))),
    h("p", { class: "hint" }, t("work.intro")),
    h("section", { class: "card", "aria-labelledby": "calls-title" }, h("h2", { id: "calls-title" }, t("work.calls.title")), callsHost),
    h("section", { class: "card", "aria-labelledby": "meetings-title" }, h("h2", { id: "meetings-title" }, t("work.meetings.title")), formHost, meetingsHost),
  );

  let serverCalls = null;
  let callsDirty = false;
  let serverMeetings = [];

  async function load() {
    try {
      const [calls, meetings] = await Promise.all([
        request(`/performance/calls?date_from=${today}&date_to=${today}`),
        request(`/performance/meetings?date_from=${today}&date_to=${today}&page_size=100`),
      ]);
      const rows = calls.data.results || [];
      serverCalls = rows.find((row) => row.source === "manual") || null;
      const imported = rows.find((row) => row.source !== "manual") || null;
      if (serverCalls) localStorage.setItem(`et.calls.${today}`, serverCalls.id);
      serverMeetings = meetings.data.results || [];
      if (!callsDirty) drawCalls(imported);
    } catch (error) {
      if (!(error instanceof OfflineError)) console.warn(error);
      if (!callsDirty) drawCalls(null);
    }
    await drawMeetings();
  }

  async function pendingFor(prefix) {
    const { pending, failed } = await sync.status();
    return {
      pending: pending.filter((item) => item.url && item.url.startsWith(prefix)),
      failed: failed.filter((item) => item.url && item.url.startsWith(prefix)),
    };
  }

  async function drawCalls(imported) {
    // A day already has manual figures under another id (typed on another phone): use it.
    const { pending, failed } = await pendingFor(CALLS_URL);
    for (const item of failed) {
      if (item.failure && item.failure.existing_id && item.body.local_date === today) {
        localStorage.setItem(`et.calls.${today}`, item.failure.existing_id);
        await sync.discard(item.key);
        await sync.queue({ op: "put", url: `${CALLS_URL}${item.failure.existing_id}`, body: item.body });
      }
    }
    const id = callsId(today);
    const queued = pending.find((item) => item.url === `${CALLS_URL}${id}`);
    const values = (queued && queued.body) || serverCalls || {};
    const form = h(
      "form",
      { class: "calls-form" },
      imported ? h("p", { class: "notice" }, t("work.calls.imported", { count: imported.calls_made })) : null,
      h(
        "div",
        { class: "number-grid" },
        field(t("work.calls.made"), number("calls_made", values.calls_made, { max: 1000 })),
        field(t("work.calls.connected"), number("connected", values.connected, { max: 1000 })),
        field(t("work.calls.conversations"), number("conversations", values.conversations, { max: 1000 }), { hint: t("work.calls.conversations.hint") }),
        field(t("work.calls.talk"), number("talk_minutes", values.talk_minutes, { max: 1440 })),
      ),
      queued ? h("p", { class: "badge badge-pending" }, t("entry.pending")) : null,
      h("div", { class: "actions" }, h("button", { type: "submit", class: "button primary", dataset: { focus: "calls-save" } }, t("work.calls.save"))),
    );
    form.addEventListener("input", () => {
      callsDirty = true;
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const read = (name) => Number(form.elements[name].value || 0);
      const body = { local_date: today, calls_made: read("calls_made"), connected: read("connected"), conversations: read("conversations"), talk_minutes: read("talk_minutes"), client_updated_at: new Date().toISOString() };
      const connected = form.elements.connected;
      const conversations = form.elements.conversations;
      connected.setCustomValidity(body.connected > body.calls_made ? t("work.calls.error.connected") : "");
      conversations.setCustomValidity(body.conversations > body.connected ? t("work.calls.error.conversations") : "");
      if (!form.reportValidity()) return;
      if (!(await stored(form, () => sync.queue({ op: "put", url: `${CALLS_URL}${id}`, body })))) return;
      callsDirty = false;
      toast(!isOffline() ? t("toast.saved") : t("toast.saved.offline"));
      await drawCalls(imported);
      // The form was drawn again (with "waiting to sync"): its Save button keeps the focus.
      focusOn(callsHost.querySelector('[data-focus="calls-save"]'));
    });
    redraw(callsHost, [form], () => document.getElementById("calls-title"));
  }

  function meetingForm(existing = null) {
    const titleId = nextId("meeting");
    const now = new Date();
    // One id per form: a double tap on Save overwrites the same meeting instead of adding one.
    const id = existing ? existing.id : globalThis.ETOutbox.uuid();
    const form = h(
      "form",
      { class: "meeting-form", "aria-labelledby": titleId },
      h("h3", { id: titleId }, existing ? t("work.meeting.edit") : t("work.meeting.add")),
      segmented("status", t("work.meeting.status"), STATUSES.map((s) => [s, t(`meeting.status.${s}`)]), existing ? existing.status : "held"),
      checkboxes("bant", t("work.meeting.bant.legend"), [["decision_maker_present", t("work.meeting.dm")], ...BANT.map((flag) => [flag, t(`work.meeting.${flag}`)])], existing ? ["decision_maker_present", ...BANT].filter((flag) => existing[flag]) : []),
      h(
        "div",
        { class: "row" },
        // Text, not a number input: see parseDecimal (a typed "1250,50" must not become 125050).
        field(t("work.meeting.value"), h("input", { type: "text", name: "deal_value", inputmode: "decimal", autocomplete: "off", value: existing && existing.deal_value_cents ? fmtInput(existing.deal_value_cents / 10 ** minorDigits(existing.currency), minorDigits(existing.currency)) : "" }), { hint: t("work.meeting.value.hint", { example: fmtInput(1250.5) }) }),
        field(t("work.meeting.currency"), h("input", { type: "text", name: "currency", maxlength: 3, pattern: "[A-Za-z]{3}", value: (existing && existing.currency) || localStorage.getItem("et.currency") || "EUR", autocomplete: "off" })),
        field(t("form.time"), h("input", { type: "time", name: "time", value: existing ? timeOf(new Date(existing.occurred_at)) : timeOf(now), required: true })),
      ),
      h(
        "div",
        { class: "actions" },
        existing
          ? h("button", {
              type: "button",
              class: "button",
              onclick: async () => {
                replace(formHost);
                await drawMeetings();
                // Back to the meeting that was being edited.
                focusOn(meetingsHost.querySelector(`[data-focus="meeting-${existing.id}"]`)) || focusOn(meetingsHost.querySelector("h3"));
              },
            }, t("form.cancel"))
          : null,
        existing
          ? h("button", {
              type: "button",
              class: "button danger",
              onclick: async () => {
                await sync.queue({ op: "delete", url: `${MEETINGS_URL}${existing.id}` });
                toast(t("toast.deleted"));
                replace(formHost);
                await drawMeetings();
                focusOn(meetingsHost.querySelector("h3"));
              },
            }, t("form.delete"))
          : null,
        h("button", { type: "submit", class: "button primary" }, t("work.meeting.save")),
      ),
    );
    form.elements.deal_value.addEventListener("input", () => form.elements.deal_value.setCustomValidity(""));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const dealValue = parseDecimal(form.elements.deal_value.value);
      form.elements.deal_value.setCustomValidity(Number.isNaN(dealValue) ? t("work.meeting.value.error", { example: fmtInput(1250.5) }) : "");
      if (!form.reportValidity()) return;
      const flags = new Set([...form.querySelectorAll('input[name="bant"]:checked')].map((input) => input.value));
      const value = dealValue || 0;
      const currency = form.elements.currency.value.toUpperCase();
      localStorage.setItem("et.currency", currency);
      const body = {
        occurred_at: atTime(today, form.elements.time.value).toISOString(),
        tz: deviceZone(),
        status: form.querySelector('input[name="status"]:checked').value,
        decision_maker_present: flags.has("decision_maker_present"),
        ...Object.fromEntries(BANT.map((flag) => [flag, flags.has(flag)])),
        deal_value_cents: Math.round(value * 10 ** minorDigits(currency)),
        currency: value > 0 ? currency : "",
        client_updated_at: new Date().toISOString(),
      };
      if (!(await stored(form, () => sync.queue({ op: "put", url: `${MEETINGS_URL}${id}`, body })))) return;
      toast(!isOffline() ? t("toast.saved") : t("toast.saved.offline"));
      replace(formHost, meetingForm());
      await drawMeetings();
      formHost.querySelector('input[name="status"]:checked')?.focus();
    });
    return form;
  }

  async function drawMeetings() {
    const { pending, failed } = await pendingFor(MEETINGS_URL);
    const byId = new Map(serverMeetings.map((m) => [m.id, m]));
    for (const item of pending) {
      const id = item.url.slice(MEETINGS_URL.length);
      if (item.op === "delete") byId.delete(id);
      else byId.set(id, { ...(byId.get(id) || {}), ...item.body, id, pending: true });
    }
    for (const item of failed) {
      const id = item.url.slice(MEETINGS_URL.length);
      if (byId.has(id)) byId.get(id).failed = true;
    }
    const meetings = [...byId.values()].filter((m) => localDay(new Date(m.occurred_at), boundary()) === today).sort((a, b) => new Date(a.occurred_at) - new Date(b.occurred_at));
    if (!formHost.firstChild) replace(formHost, meetingForm());
    const held = meetings.filter((m) => m.status === "held");
    // The server decides with the team's rule; an entry not sent yet counts with the default (3).
    const qualified = held.filter((m) => (typeof m.qualified === "boolean" && !m.pending ? m.qualified : BANT.filter((flag) => m[flag]).length >= 3)).length;
    redraw(meetingsHost, [
      h("h3", null, t("work.meetings.today")),
      meetings.length
        ? h("p", { class: "hint" }, t("work.meetings.count", { count: meetings.length, held: held.length, qualified: fmtNumber(qualified) }))
        : null,
      meetings.length
        ? h(
            "ul",
            { class: "entry-list" },
            meetings.map((meeting) =>
              h(
                "li",
                null,
                h(
                  "button",
                  {
                    type: "button",
                    class: "entry",
                    dataset: { focus: `meeting-${meeting.id}` },
                    onclick: () => {
                      replace(formHost, meetingForm(meeting));
                      formHost.querySelector("h3").setAttribute("tabindex", "-1");
                      formHost.querySelector("h3").focus();
                    },
                    disabled: meeting.source && meeting.source !== "manual",
                  },
                  h("span", { class: "entry-time" }, fmtTime(new Date(meeting.occurred_at))),
                  h("span", { class: "entry-kind" }, t("work.meeting")),
                  h("span", { class: "entry-text" }, meetingSummary(meeting)),
                  meeting.failed ? h("span", { class: "badge badge-failed" }, t("entry.failed")) : meeting.pending ? h("span", { class: "badge badge-pending" }, t("entry.pending")) : null,
                  meeting.source && meeting.source !== "manual" ? h("span", { class: "entry-note" }, t("work.meeting.imported")) : h("span", { class: "visually-hidden" }, t("entry.edit")),
                ),
              ),
            ),
          )
        : h("p", { class: "muted" }, t("work.meetings.none")),
    ], () => meetingsHost.querySelector("h3"));
  }

  // When items leave the outbox the server has them: ask it again (it also decides
  // "qualified" with the team's rule). A calls form being edited is left alone.
  let lastPending = -1;
  const stop = sync.onChange(async () => {
    const { pending } = await sync.status();
    const mine = pending.filter((item) => item.url && item.url.startsWith("/api/v1/performance/")).length;
    const drained = lastPending > mine;
    lastPending = mine;
    if (drained) await load();
    else await drawMeetings();
  });
  load();
  return stop;
}
