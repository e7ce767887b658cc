// Quick entry forms (meal, exercise, activity, note, sleep, drinks, energy) in a modal
// <dialog>: focus stays inside, Escape closes, and the opener gets focus back.
import { h, field, segmented, checkboxes, select, showErrors, nextId, toast, returnFocus } from "./dom.js";
import { t, fmtDate, fmtInput, parseDecimal } from "./i18n.js";
import { api, ApiError, OfflineError, isOffline } from "./api.js";
import { session, allowed, setConsent, KIND_CATEGORY } from "./session.js";
import { upsertEntry, deleteEntry } from "./sync.js";
import { addDays, atTime, dayToDate, deviceZone, localDay, isoDay, timeOf } from "./dates.js";

export const MEAL_TAGS = ["vegetables", "fruit", "protein", "wholegrain", "sugary", "fried", "processed", "caffeine", "spicy"];
const EXERCISE_TYPES = ["walk", "run", "cycling", "gym", "swim", "sport", "yoga", "other"];

function boundary() {
  return (session.me && session.me.day_boundary_hour) ?? 4;
}

// An instant from a local day and a clock time; before the day boundary means after midnight.
export function instantFor(kind, day, hhmm) {
  const hour = Number(hhmm.split(":")[0]);
  const calendarDay = kind !== "sleep" && hour < boundary() ? addDays(day, 1) : day;
  return atTime(calendarDay, hhmm);
}

function defaultMealType(now) {
  const hour = now.getHours();
  if (hour < 10) return "breakfast";
  if (hour < 15) return "lunch";
  if (hour >= 17 && hour < 22) return "dinner";
  return "snack";
}

function scale(name, legend, low, high, value, { optional = true } = {}) {
  const options = [];
  if (optional) options.push(["", t("form.none")]);
  for (let i = low; i <= high; i += 1) options.push([String(i), String(i)]);
  return segmented(name, legend, options, value ?? "");
}

function numberInput(name, value, { min = 0, max, step = 1, required = false } = {}) {
  return h("input", { type: "number", name, inputmode: step < 1 ? "decimal" : "numeric", min, max, step, value: value ?? "", required });
}

function noteField(value) {
  return field(t("form.note"), h("textarea", { name: "note", rows: 2, maxlength: 2000 }, value || ""), { hint: t("form.note.hint") });
}

function daySelect(current) {
  const today = localDay(new Date(), boundary());
  const days = [today, addDays(today, -1)];
  if (current && !days.includes(current)) days.push(current);
  const label = (day) => (day === today ? t("form.day.today") : day === addDays(today, -1) ? t("form.day.yesterday") : fmtDate(dayToDate(day), { day: "numeric", month: "long" }));
  return field(t("form.day"), select("day", days.map((day) => [day, label(day)]), current || today));
}

function timeField(labelKey, name, value) {
  return field(t(labelKey), h("input", { type: "time", name, value, required: true }));
}

function radioValue(form, name) {
  const checked = form.querySelector(`input[name="${name}"]:checked`);
  return checked ? checked.value : "";
}

function intOrNull(value) {
  return value === "" || value === null || value === undefined ? null : Number(value);
}

function fieldsFor(kind, entry, mode) {
  const now = new Date();
  const occurred = entry ? new Date(entry.occurred_at) : now;
  const day = entry ? entry.local_date : localDay(now, boundary());
  const common = [daySelect(day), timeField("form.time", "time", timeOf(occurred))];
  switch (kind) {
    case "energy":
      return [
        scale("level", t("form.energy.level"), 1, 9, entry ? entry.level : null, { optional: mode === "note" }),
        scale("focus", t("form.energy.focus"), 1, 5, entry && entry.focus),
        scale("mood", t("form.energy.mood"), 1, 5, entry && entry.mood),
        ...common,
        mode === "note"
          ? field(t("form.note"), h("textarea", { name: "note", rows: 4, maxlength: 2000, required: true }, (entry && entry.note) || ""), { hint: t("form.note.hint") })
          : noteField(entry && entry.note),
      ];
    case "meal":
      return [
        segmented("meal_type", t("form.meal.type"), ["breakfast", "lunch", "dinner", "snack"].map((v) => [v, t(`meal.type.${v}`)]), entry ? entry.meal_type : defaultMealType(now)),
        segmented("heaviness", t("form.meal.heaviness"), ["light", "normal", "heavy"].map((v) => [v, t(`meal.heaviness.${v}`)]), entry ? entry.heaviness : "normal"),
        checkboxes("tags", t("form.meal.tags"), MEAL_TAGS.map((v) => [v, t(`meal.tag.${v}`)]), entry ? entry.tags : []),
        ...common,
        noteField(entry && entry.note),
      ];
    case "exercise":
      return [
        field(t("form.exercise.type"), select("exercise_type", [...EXERCISE_TYPES, ...(entry && entry.exercise_type && !EXERCISE_TYPES.includes(entry.exercise_type) ? [entry.exercise_type] : [])].map((v) => [v, EXERCISE_TYPES.includes(v) ? t(`exercise.type.${v}`) : v]), entry && entry.exercise_type ? entry.exercise_type : "walk")),
        field(t("form.duration"), numberInput("duration_minutes", entry ? entry.duration_minutes : 30, { max: 720, required: true }), { hint: t("form.duration.hint") }),
        segmented("intensity", t("form.exercise.intensity"), ["light", "moderate", "vigorous"].map((v) => [v, t(`exercise.intensity.${v}`)]), entry ? entry.intensity : "moderate"),
        ...common,
        noteField(entry && entry.note),
      ];
    case "activity":
      return [
        field(t("form.activity.what"), h("input", { type: "text", name: "what", maxlength: 80, value: entry ? entry.what : "", required: true, autocomplete: "off" }), { hint: t("form.activity.what.hint") }),
        field(t("form.duration"), numberInput("duration_minutes", entry ? entry.duration_minutes : 60, { max: 1440 }), { hint: t("form.duration.hint") }),
        segmented("effect", t("form.activity.effect"), ["gave", "neutral", "drained"].map((v) => [v, t(`activity.effect.${v}`)]), entry ? entry.effect : "neutral"),
        ...common,
        noteField(entry && entry.note),
      ];
    case "alcohol":
      return [
        // Text, not a number input: see parseDecimal (a typed "1,5" must not become 15).
        field(t("form.alcohol.drinks"), h("input", { type: "text", name: "standard_drinks", inputmode: "decimal", autocomplete: "off", required: true, value: fmtInput(entry && entry.standard_drinks !== null ? Number(entry.standard_drinks) : 1, 1) }), { hint: t("form.alcohol.drinks.hint") }),
        segmented("context", t("form.alcohol.context"), ["dinner", "social", "going_out", "other"].map((v) => [v, t(`alcohol.context.${v}`)]), entry ? entry.context : "dinner"),
        ...common,
        noteField(entry && entry.note),
      ];
    case "sleep": {
      const wake = entry ? new Date(entry.occurred_at) : null;
      const bed = entry && entry.bedtime ? new Date(entry.bedtime) : null;
      const last = lastNight();
      return [
        field(t("form.sleep.wakeday"), select("day", [[isoDay(now), t("form.day.today")], [addDays(isoDay(now), -1), t("form.day.yesterday")], ...(entry && ![isoDay(now), addDays(isoDay(now), -1)].includes(entry.local_date) ? [[entry.local_date, entry.local_date]] : [])], entry ? entry.local_date : isoDay(now))),
        timeField("form.sleep.bedtime", "bedtime", bed ? timeOf(bed) : last.bed),
        timeField("form.sleep.wake", "time", wake ? timeOf(wake) : last.wake),
        scale("quality", t("form.sleep.quality"), 1, 5, entry && entry.quality),
        noteField(entry && entry.note),
      ];
    }
    default:
      return [];
  }
}

export function lastNight() {
  try {
    return { bed: "23:00", wake: "07:00", drinks: "0", ...JSON.parse(localStorage.getItem("et.lastNight") || "{}") };
  } catch {
    return { bed: "23:00", wake: "07:00", drinks: "0" };
  }
}

export function rememberLastNight(values) {
  localStorage.setItem("et.lastNight", JSON.stringify({ ...lastNight(), ...values }));
}

// Bedtime and wake time as instants, wake on `day`, bed the evening before when it is later.
export function sleepInstants(day, bedHHMM, wakeHHMM) {
  let wake = atTime(day, wakeHHMM);
  const now = new Date();
  if (wake > now) wake = now;
  let bed = atTime(day, bedHHMM);
  if (bed >= wake) bed = atTime(addDays(day, -1), bedHHMM);
  return { bed, wake };
}

function bodyFor(kind, form, mode) {
  const value = (name) => (form.elements[name] ? form.elements[name].value : "");
  const day = value("day");
  const body = { tz: deviceZone(), client_updated_at: new Date().toISOString(), note: value("note").trim() };
  switch (kind) {
    case "energy":
      body.level = intOrNull(radioValue(form, "level"));
      body.focus = intOrNull(radioValue(form, "focus"));
      body.mood = intOrNull(radioValue(form, "mood"));
      break;
    case "meal":
      body.meal_type = radioValue(form, "meal_type");
      body.heaviness = radioValue(form, "heaviness");
      body.tags = [...form.querySelectorAll('input[name="tags"]:checked')].map((input) => input.value);
      break;
    case "exercise":
      body.exercise_type = value("exercise_type");
      body.duration_minutes = intOrNull(value("duration_minutes"));
      body.intensity = radioValue(form, "intensity");
      break;
    case "activity":
      body.what = value("what").trim();
      body.duration_minutes = intOrNull(value("duration_minutes"));
      body.effect = radioValue(form, "effect");
      break;
    case "alcohol":
      body.standard_drinks = parseDecimal(value("standard_drinks"), { either: true });
      body.context = radioValue(form, "context");
      break;
    case "sleep": {
      const { bed, wake } = sleepInstants(day, value("bedtime"), value("time"));
      body.occurred_at = wake.toISOString();
      body.bedtime = bed.toISOString();
      body.quality = intOrNull(radioValue(form, "quality"));
      return body;
    }
    default:
      break;
  }
  if (mode === "note" && body.level === null) delete body.level;
  body.occurred_at = instantFor(kind, day, value("time")).toISOString();
  return body;
}

function consentGate(kind, dialog, rebuild) {
  const category = KIND_CATEGORY[kind];
  const button = h("button", { type: "button", class: "button primary" }, t("consent.allow"));
  const error = h("p", { class: "field-error", role: "alert", hidden: true });
  button.addEventListener("click", async () => {
    try {
      await api(`/privacy/consents/${category}/grant`, { method: "POST" });
      setConsent(category, true);
      rebuild();
    } catch (err) {
      error.textContent = err instanceof OfflineError ? t("error.offline.action") : err.message;
      error.hidden = false;
    }
  });
  return [
    h("p", null, t("consent.needed", { category: t(`category.${category}`) })),
    h("p", { class: "explain" }, t(`category.${category}.explain`)),
    h("p", { class: "hint" }, t("consent.withdraw.anytime")),
    error,
    h("div", { class: "actions" }, h("button", { type: "button", class: "button", onclick: () => dialog.close() }, t("form.cancel")), button),
  ];
}

// kind: journal kind; mode "note" is an energy entry whose point is the note.
export function openEntryForm(kind, { entry = null, mode = null, onDone = () => {} } = {}) {
  const opener = document.activeElement;
  const titleId = nextId("dlg");
  const dialog = h("dialog", { class: "sheet", "aria-labelledby": titleId });
  const titleKey = `form.title.${mode || kind}${entry ? ".edit" : ""}`;
  // One id per opened form: a second submit (a double tap) overwrites the same outbox item,
  // and the server's idempotent upsert stores one entry.
  const entryId = entry ? entry.id : globalThis.ETOutbox.uuid();

  const build = () => {
    const heading = h("h2", { id: titleId }, t(titleKey));
    if (!allowed(kind)) {
      dialog.replaceChildren(heading, ...consentGate(kind, dialog, build));
      dialog.querySelector(".primary").focus();
      return;
    }
    const form = h("form", { class: "entry-form", novalidate: false });
    const formError = h("p", { class: "form-error", role: "alert", hidden: true });
    const submit = h("button", { type: "submit", class: "button primary" }, t("form.save"));
    const actions = h("div", { class: "actions" }, h("button", { type: "button", class: "button", onclick: () => dialog.close() }, t("form.cancel")));
    // The dialog stays open when the phone cannot store the change, so nothing typed is lost.
    const saving = async (button, work) => {
      button.disabled = true;
      formError.hidden = true;
      try {
        await work();
      } catch (error) {
        console.warn(error);
        formError.textContent = t("form.error.notstored");
        formError.hidden = false;
      } finally {
        button.disabled = false;
      }
    };
    if (entry) {
      actions.append(
        h("button", {
          type: "button",
          class: "button danger",
          onclick: (event) => saving(event.currentTarget, async () => {
            await deleteEntry(kind, entry.id);
            toast(t("toast.deleted"));
            dialog.close();
            onDone();
          }),
        }, t("form.delete")),
      );
    }
    actions.append(submit);
    form.append(...fieldsFor(kind, entry, mode), formError, actions);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const body = bodyFor(kind, form, mode);
      // 0 to 30 in halves, as the server stores them.
      if (kind === "alcohol" && !(body.standard_drinks >= 0 && body.standard_drinks <= 30 && Number.isInteger(body.standard_drinks * 2))) {
        showErrors(form, { standard_drinks: [t("form.error.drinks", { example: fmtInput(1.5, 1) })] });
        return;
      }
      if (new Date(body.occurred_at).getTime() > Date.now() + 5 * 60 * 1000) {
        showErrors(form, { time: [t("form.error.future")] });
        return;
      }
      if (kind === "sleep") rememberLastNight({ bed: form.elements.bedtime.value, wake: form.elements.time.value });
      return saving(submit, async () => {
        await upsertEntry(kind, entryId, body);
        toast(!isOffline() ? t("toast.saved") : t("toast.saved.offline"));
        dialog.close();
        onDone();
      });
    });
    dialog.replaceChildren(heading, form);
  };

  build();
  document.body.append(dialog);
  dialog.addEventListener("close", () => {
    dialog.remove();
    // The list may have been redrawn while the form was open (a sync finished): then the
    // entry's new button, or the screen's heading, gets focus instead of <body>.
    returnFocus(opener, document.querySelector("main h1"));
  });
  dialog.showModal();
  return dialog;
}

export function describeError(error) {
  if (error instanceof OfflineError) return t("error.offline.action");
  if (error instanceof ApiError) return error.message;
  return t("error.generic");
}
