// App start: language, session, chrome (top bar, tab bar, sync status), router, service worker.
import { applyLanguage, effectiveLanguage, lang, t } from "./i18n.js";
import { h, icon, replace, yieldToBrowser } from "./dom.js";
import { session, loadMe, cachedMe, updateMe } from "./session.js";
import * as sync from "./sync.js";
import { isOffline } from "./api.js";

const SCREENS = ["today", "work", "trends", "insights", "privacy", "settings", "login", "coach", "coach-invite"];
const TABS = ["today", "work", "trends", "insights", "privacy"];
// Open without a session: the coach's invitation creates the account or asks to sign in.
const PUBLIC = new Set(["login", "coach-invite"]);

// A coach (someone a rep shares summaries with) gets one more tab: what was shared.
function tabNames() {
  return session.me && (session.me.roles || []).includes("coach") ? [...TABS, "coach"] : TABS;
}
const main = document.getElementById("main");
const tabs = document.getElementById("tabs");
const statusEl = document.getElementById("status");
const settingsLink = document.getElementById("settings-link");
let currentScreen = null;
let cleanup = null;
let renderToken = 0;
let updateWaiting = false;
const editedForms = new Set();

export function screenFromPath(pathname) {
  const name = pathname.replace(/^\/app\/?/, "").replace(/\/$/, "");
  return name === "" ? "today" : SCREENS.includes(name) ? name : "today";
}

export function pathFor(screen) {
  return screen === "today" ? "/app/" : `/app/${screen}`;
}

export function navigate(screen, { replace: replaceState = false } = {}) {
  const path = pathFor(screen);
  if (replaceState) history.replaceState({}, "", path);
  else if (location.pathname !== path) history.pushState({}, "", path);
  return show(screen, { focus: true });
}

function renderChrome() {
  document.getElementById("skip-link").textContent = t("app.skip");
  settingsLink.setAttribute("aria-label", t("nav.settings"));
  tabs.setAttribute("aria-label", t("nav.label"));
  replace(
    tabs,
    h(
      "ul",
      null,
      tabNames().map((name) =>
        h(
          "li",
          null,
          h(
            "a",
            { href: pathFor(name), "aria-current": name === currentScreen ? "page" : null, dataset: { screen: name } },
            icon(name),
            h("span", null, t(`nav.${name}`)),
          ),
        ),
      ),
    ),
  );
  const signedIn = Boolean(session.me) && !PUBLIC.has(currentScreen);
  tabs.hidden = !signedIn;
  settingsLink.hidden = !signedIn;
  if (currentScreen === "settings") settingsLink.setAttribute("aria-current", "page");
  else settingsLink.removeAttribute("aria-current");
  renderStatus();
}

async function renderStatus() {
  const { pending, failed, lastSync } = await sync.status();
  const parts = [];
  if (isOffline()) parts.push(h("span", { class: "pill pill-offline" }, t("status.offline")));
  if (lastSync && lastSync.state === "clock") parts.push(h("span", { class: "pill pill-failed", role: "alert" }, t("status.clock")));
  if (pending.length) parts.push(h("span", { class: "pill pill-pending" }, t("status.pending", { count: pending.length })));
  if (failed.length) parts.push(h("span", { class: "pill pill-failed" }, t("status.failed", { count: failed.length })));
  replace(statusEl, parts);
}

async function show(screen, { focus = false } = {}) {
  const token = ++renderToken;
  if (!session.me && !PUBLIC.has(screen)) screen = "login";
  if (session.me && screen === "login") screen = "today";
  if (location.pathname !== pathFor(screen)) history.replaceState({}, "", pathFor(screen));
  // Leaving a screen drops what was typed on it anyway: the moment to load a waiting update.
  if (updateWaiting && !document.querySelector("dialog[open]")) {
    location.reload();
    return;
  }
  if (cleanup) {
    cleanup();
    cleanup = null;
  }
  currentScreen = screen;
  renderChrome();
  document.title = `${t(`screen.${screen}`)} · energytrack`;
  const module = await import(`./screens/${screen}.js`);
  await yieldToBrowser();
  if (token !== renderToken) return;
  main.setAttribute("aria-busy", "true");
  const result = await module.render(main, { navigate, relocalise, rerender: () => show(currentScreen) });
  const stop = typeof result === "function" ? result : null;
  if (token !== renderToken) {
    if (stop) stop(); // another screen was asked for meanwhile
    return;
  }
  cleanup = stop;
  main.removeAttribute("aria-busy");
  if (focus) {
    const heading = main.querySelector("h1");
    if (heading) {
      heading.setAttribute("tabindex", "-1");
      heading.focus();
    }
  }
}

export function currentScreenName() {
  return currentScreen;
}

function interceptLinks() {
  document.addEventListener("click", (event) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const link = event.target.closest("a[href]");
    if (!link || link.target || link.hasAttribute("download")) return;
    const url = new URL(link.href, location.href);
    if (url.origin !== location.origin || !url.pathname.startsWith("/app")) return;
    event.preventDefault();
    navigate(screenFromPath(url.pathname));
  });
  window.addEventListener("popstate", () => show(screenFromPath(location.pathname), { focus: true }));
  window.addEventListener("et:unauthorized", () => {
    if (session.me && currentScreen !== "login") {
      loadMe().then((me) => {
        if (!me) show("login");
      });
    }
  });
}

// Trusted Types are enforced (see the CSP): the only script URL this app ever hands to the
// browser is its own service worker, through a policy that allows nothing else.
function workerUrl() {
  if (!window.trustedTypes) return "/sw.js";
  const policy = window.trustedTypes.createPolicy("et-sw", {
    createScriptURL(url) {
      if (url === "/sw.js") return url;
      throw new TypeError(`refused script URL ${url}`);
    },
  });
  return policy.createScriptURL("/sw.js");
}

async function registerWorker() {
  if (!("serviceWorker" in navigator)) return;
  try {
    await navigator.serviceWorker.register(workerUrl(), { scope: "/" });
  } catch (error) {
    console.warn("service worker not registered", error);
  }
}

// After a deploy the new worker takes over and deletes the old cache while this page still
// runs the old modules, so a screen opened now would mix old and new code. Reload onto the new
// version when nothing is being typed: at once, when the dialog closes, after a save or at the
// next change of screen. Queued entries are safe in IndexedDB; a flush cut short is resent.
function typing() {
  for (const form of editedForms) if (!form.isConnected) editedForms.delete(form);
  return Boolean(document.querySelector("dialog[open]")) || editedForms.size > 0;
}

function reloadWhenIdle() {
  if (updateWaiting && !typing()) location.reload();
}

function reloadOnUpdate() {
  if (!("serviceWorker" in navigator)) return;
  let controlled = Boolean(navigator.serviceWorker.controller);
  navigator.serviceWorker.addEventListener("controllerchange", () => {
    if (!controlled) {
      controlled = true; // the first install: this page already runs the current code
      return;
    }
    updateWaiting = true;
    reloadWhenIdle();
  });
  document.addEventListener("input", (event) => {
    const form = event.target instanceof Element ? event.target.closest("form") : null;
    if (form) editedForms.add(form);
  }, true);
  // `close` does not bubble; a capturing listener still hears every dialog close.
  document.addEventListener("close", () => setTimeout(reloadWhenIdle, 0), true);
  sync.onChange(reloadWhenIdle);
}

// The server renders insights and notifications in the user's language: keep it in step with
// the language the app shows, which follows this device unless the user picked one.
async function syncServerLanguage() {
  if (session.me && navigator.onLine && session.me.locale !== lang()) {
    try {
      await updateMe({ locale: lang() });
    } catch (error) {
      console.warn("could not save language", error);
    }
  }
}

function publishLanguage() {
  // The service worker shows push notifications in this language (it cannot import modules).
  const kinds = ["default", "insight", "reminder", "digest", "system"];
  sync.publishLanguage(lang(), Object.fromEntries(kinds.map((kind) => [kind, { title: t(`push.${kind}.title`), body: t(`push.${kind}.body`) }])));
}

export async function relocalise() {
  applyLanguage(effectiveLanguage());
  publishLanguage();
  await show(currentScreen);
}

// Work that can wait until the first screen is up: each piece in its own task, so none of
// it delays the first paint or blocks input for long.
function later(work) {
  return new Promise((resolve) => {
    const run = () => Promise.resolve().then(work).then(resolve, (error) => {
      console.warn(error);
      resolve();
    });
    if ("requestIdleCallback" in window) requestIdleCallback(run, { timeout: 2000 });
    else setTimeout(run, 50);
  });
}

async function boot() {
  applyLanguage(effectiveLanguage());
  interceptLinks();
  reloadOnUpdate();
  sync.onChange(renderStatus);
  window.addEventListener("et:network", renderStatus);
  // With a remembered profile the first screen paints at once, without waiting for the
  // network; the server's answer replaces the profile a moment later.
  session.me = cachedMe();
  if (session.me) {
    sync.setUser(session.me.id);
    const first = show(screenFromPath(location.pathname));
    const me = await loadMe();
    await first;
    if (!me) await show("login");
  } else {
    // While the session is checked, fetch the screen's code (and, if it wants, its data).
    const screen = screenFromPath(location.pathname);
    if (screen !== "login") {
      import(`./screens/${screen}.js`).then((module) => module.prefetch && module.prefetch()).catch(() => null);
    }
    await loadMe();
    await show(screen);
  }
  await later(publishLanguage);
  await later(() => sync.start());
  await later(syncServerLanguage);
  await later(registerWorker);
}

boot();
