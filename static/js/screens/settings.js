// Settings: language, time zone, day boundary; reminders, quiet hours and push when the
// notifications API is there; what is waiting to sync; sign out.
import { h, replace, redraw, focusOn, field, select, showErrors, toast } from "../dom.js";
import { t, lang, languageChoice, setLanguageChoice, browserLanguage } from "../i18n.js";
import { ApiError, OfflineError } from "../api.js";
import { session, updateMe, logout } from "../session.js";
import * as sync from "../sync.js";
import { deviceZone } from "../dates.js";
import { renderNotifications } from "../notifications.js";

function zones(current) {
  let list = [];
  try {
    list = Intl.supportedValuesOf("timeZone");
  } catch {
    list = [];
  }
  for (const zone of [current, deviceZone(), "UTC"]) if (zone && !list.includes(zone)) list.push(zone);
  return list.sort();
}

function pad(n) {
  return String(n).padStart(2, "0");
}

export async function render(main, { relocalise, navigate }) {
  const me = session.me;
  const languageSelect = select("language", [["auto", t("settings.language.auto", { language: t(`language.${browserLanguage()}`) })], ["nl", t("language.nl")], ["en", t("language.en")]], languageChoice());
  languageSelect.addEventListener("change", async () => {
    setLanguageChoice(languageSelect.value);
    if (navigator.onLine) await updateMe({ locale: lang() }).catch(() => null);
    await relocalise();
    document.querySelector('select[name="language"]')?.focus();
  });

  const zoneSelect = select("timezone", zones(me.timezone).map((zone) => [zone, zone.replaceAll("_", " ")]), me.timezone);
  const boundarySelect = select(
    "day_boundary_hour",
    Array.from({ length: 13 }, (_, hour) => [String(hour), `${pad(hour)}:00`]),
    String(me.day_boundary_hour),
  );
  const profileStatus = h("p", { class: "hint", role: "status" });
  const profile = h(
    "form",
    { class: "settings-form" },
    field(t("settings.timezone"), zoneSelect, { hint: t("settings.timezone.hint", { zone: deviceZone() }) }),
    field(t("settings.boundary"), boundarySelect, { hint: t("settings.boundary.hint") }),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "button primary" }, t("settings.save"))),
    profileStatus,
  );
  profile.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await updateMe({ timezone: zoneSelect.value, day_boundary_hour: Number(boundarySelect.value) });
      profileStatus.textContent = t("settings.saved");
    } catch (error) {
      if (error instanceof ApiError && Object.keys(error.errors).length) showErrors(profile, error.errors);
      else profileStatus.textContent = error instanceof OfflineError ? t("error.offline.action") : error.message;
    }
  });

  const syncHost = h("div");
  const notificationsHost = h("div");
  replace(
    main,
    h("h1", null, t("screen.settings")),
    h("section", { class: "card", "aria-labelledby": "lang-title" }, h("h2", { id: "lang-title" }, t("settings.language.title")), field(t("settings.language"), languageSelect)),
    h("section", { class: "card", "aria-labelledby": "day-title" }, h("h2", { id: "day-title" }, t("settings.day.title")), profile),
    notificationsHost,
    h("section", { class: "card", "aria-labelledby": "sync-settings-title" }, h("h2", { id: "sync-settings-title" }, t("settings.sync.title")), syncHost),
    h("section", { class: "card", "aria-labelledby": "account-title" },
      h("h2", { id: "account-title" }, t("settings.account.title")),
      h("p", null, t("settings.account.signedin", { email: me.email })),
      h("button", { type: "button", class: "button", onclick: signOut }, t("settings.signout")),
    ),
  );

  async function drawSync() {
    const { pending, failed, lastSync } = await sync.status();
    const last = lastSync ? new Date(lastSync.at).toLocaleString(lang(), { dateStyle: "short", timeStyle: "short" }) : t("settings.sync.never");
    redraw(syncHost, [
      h("p", null, t("settings.sync.pending", { count: pending.length })),
      failed.length ? h("p", null, t("sync.failed.intro", { count: failed.length })) : null,
      h("p", { class: "hint" }, t("settings.sync.last", { when: last })),
      h("button", {
        type: "button",
        class: "button",
        dataset: { focus: "sync-now" },
        onclick: async (event) => {
          const button = event.currentTarget;
          button.disabled = true;
          const summary = await sync.syncNow();
          button.disabled = false;
          toast(t(`sync.state.${summary.state}`, { count: summary.sent }));
          // The section was redrawn meanwhile: focus the button that is on screen now.
          focusOn(syncHost.querySelector('[data-focus="sync-now"]'));
        },
      }, t("settings.sync.now")),
    ], () => document.getElementById("sync-settings-title"));
  }

  async function signOut() {
    // Sign-out deletes the failed entries as well as the waiting ones: warn about both.
    const { pending, failed } = await sync.status();
    const unsaved = pending.length + failed.length;
    if (unsaved && !window.confirm(t("settings.signout.pending", { count: unsaved }))) return;
    try {
      await logout();
    } catch (error) {
      toast(error instanceof OfflineError ? t("error.offline.action") : t("error.generic"), { kind: "error" });
      return;
    }
    navigate("login", { replace: true });
  }

  const stop = sync.onChange(drawSync);
  drawSync();
  renderNotifications(notificationsHost);
  return stop;
}
