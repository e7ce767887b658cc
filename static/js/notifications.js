// Settings › Notifications: push on/off (Web Push subscription), what a push may show,
// the daily reminder and quiet hours. Stored by the server (/api/v1/notifications/).
import { h, replace, field, showErrors, toast } from "./dom.js";
import { t } from "./i18n.js";
import { api, ApiError, OfflineError } from "./api.js";

function base64UrlToBytes(value) {
  const padded = (value + "===".slice((value.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

async function pushRegistration() {
  if (!("serviceWorker" in navigator) || !("PushManager" in window)) return null;
  return (await navigator.serviceWorker.getRegistration("/")) || null;
}

async function subscribe() {
  if (!("Notification" in window)) throw new Error(t("notify.push.unsupported"));
  const permission = await Notification.requestPermission();
  if (permission !== "granted") throw new Error(t("notify.push.denied"));
  const key = await api("/notifications/push/public-key");
  if (!key.enabled || !key.public_key) throw new Error(t("notify.push.unavailable"));
  const registration = await pushRegistration();
  if (!registration) throw new Error(t("notify.push.unsupported"));
  const subscription =
    (await registration.pushManager.getSubscription()) ||
    (await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: base64UrlToBytes(key.public_key) }));
  await api("/notifications/push/subscriptions", { method: "POST", body: { ...subscription.toJSON(), user_agent: navigator.userAgent.slice(0, 200) } });
}

async function localSubscription() {
  const registration = await pushRegistration();
  return registration ? registration.pushManager.getSubscription() : null;
}

async function unsubscribe() {
  const registration = await pushRegistration();
  const subscription = registration && (await registration.pushManager.getSubscription());
  if (!subscription) return;
  await api("/notifications/push/unsubscribe", { method: "POST", body: { endpoint: subscription.endpoint } });
  await subscription.unsubscribe();
}

function checkbox(name, labelText, checked, hint) {
  const id = `notify-${name}`;
  return h(
    "div",
    { class: "check" },
    h("input", { type: "checkbox", id, name, checked, "aria-describedby": hint ? `${id}-hint` : null }),
    h("label", { for: id }, labelText),
    hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null,
  );
}

export async function renderNotifications(host) {
  let prefs;
  try {
    prefs = await api("/notifications/preferences");
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      replace(host); // this server has no notifications yet
      return;
    }
    replace(host, h("section", { class: "card", "aria-labelledby": "notify-title" }, h("h2", { id: "notify-title" }, t("notify.title")), h("p", { class: "muted" }, error instanceof OfflineError ? t("notify.offline") : t("error.generic"))));
    return;
  }
  // "On this phone": the server wants push and this browser holds a subscription.
  let pushHere = Boolean(prefs.push_enabled && (await localSubscription().catch(() => null)));
  const status = h("p", { class: "hint", role: "status" });
  const form = h(
    "form",
    { class: "settings-form" },
    checkbox("push_enabled", t("notify.push"), pushHere, t("notify.push.hint")),
    checkbox("push_detailed", t("notify.detailed"), prefs.push_detailed, t("notify.detailed.hint")),
    checkbox("reminder_enabled", t("notify.reminder"), prefs.reminder_enabled),
    field(t("notify.reminder.time"), h("input", { type: "time", name: "reminder_time", value: prefs.reminder_time })),
    checkbox("quiet_hours_enabled", t("notify.quiet"), prefs.quiet_hours_enabled, t("notify.quiet.hint")),
    h(
      "div",
      { class: "row" },
      field(t("notify.quiet.start"), h("input", { type: "time", name: "quiet_hours_start", value: prefs.quiet_hours_start })),
      field(t("notify.quiet.end"), h("input", { type: "time", name: "quiet_hours_end", value: prefs.quiet_hours_end })),
    ),
    checkbox("email_digest", t("notify.digest"), prefs.email_digest),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "button primary" }, t("settings.save"))),
    status,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = (name) => form.elements[name];
    const body = {
      push_enabled: value("push_enabled").checked,
      push_detailed: value("push_detailed").checked,
      reminder_enabled: value("reminder_enabled").checked,
      reminder_time: value("reminder_time").value,
      quiet_hours_enabled: value("quiet_hours_enabled").checked,
      quiet_hours_start: value("quiet_hours_start").value,
      quiet_hours_end: value("quiet_hours_end").value,
      email_digest: value("email_digest").checked,
    };
    try {
      if (body.push_enabled && !pushHere) await subscribe();
      if (!body.push_enabled && pushHere) await unsubscribe();
      prefs = await api("/notifications/preferences", { method: "PATCH", body });
      pushHere = body.push_enabled;
      status.textContent = t("settings.saved");
    } catch (error) {
      if (error instanceof ApiError && Object.keys(error.errors).length) showErrors(form, error.errors);
      else {
        status.textContent = error instanceof OfflineError ? t("error.offline.action") : error.message;
        toast(status.textContent, { kind: "error" });
      }
    }
  });
  replace(host, h("section", { class: "card", "aria-labelledby": "notify-title" }, h("h2", { id: "notify-title" }, t("notify.title")), form));
}
