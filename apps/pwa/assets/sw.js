// energytrack service worker, served from /sw.js (root scope) by apps.pwa.views, which fills in
// VERSION (a hash of everything precached) and PRECACHE. A new deploy gives a new VERSION, so
// the new worker installs a fresh copy of the app and removes the old one.
//
// - App shell and static files: precached at install, answered from the cache (offline start).
// - API GETs: network first; the last answer is kept and served when the network is gone.
// - Writes never go through a cache: the outbox (static/js/outbox.js) queues and sends them,
//   here on Background Sync or when a page asks.
// - Push: neutral text in the rep's language ("A new insight is ready"); the payload's own
//   words only when the rep opted in to detailed notifications. Links stay inside /app/.
"use strict";
// Trusted Types are enforced here too (same CSP as the app): one policy, one script URL.
const OUTBOX_SCRIPT = "/static/js/outbox.js";
const scriptPolicy = self.trustedTypes
  ? self.trustedTypes.createPolicy("et-sw", {
      createScriptURL(url) {
        if (url === OUTBOX_SCRIPT) return url;
        throw new TypeError(`refused script URL ${url}`);
      },
    })
  : null;
importScripts(scriptPolicy ? scriptPolicy.createScriptURL(OUTBOX_SCRIPT) : OUTBOX_SCRIPT);

const VERSION = "__VERSION__";
const PRECACHE = ["__PRECACHE__"];
const SHELL_CACHE = `et-shell-${VERSION}`;
const DATA_CACHE = "et-data-v1";
const DATA_CACHE_MAX = 80;
const APP_SHELL = "/app/";
// Not kept: tokens, big one-off downloads, and the schema/docs.
// A coach's reads are never kept on the device: a revoked share must hide its summaries at
// once, and every read must reach the rep's access log.
const NO_STORE = ["/api/v1/auth/", "/api/v1/privacy/export", "/api/v1/schema", "/api/v1/docs", "/api/v1/coaching/coach/"];
const FALLBACK_PUSH = {
  default: { title: "energytrack", body: "There is something new for you in energytrack." },
  insight: { title: "energytrack", body: "A new insight is ready." },
  reminder: { title: "energytrack", body: "A moment to check in?" },
  digest: { title: "energytrack", body: "Your weekly summary is ready." },
  system: { title: "energytrack", body: "There is a message for you in energytrack." },
};
const PUSH_TARGETS = { insight: "/app/insights", reminder: "/app/", digest: "/app/trends", system: "/app/", default: "/app/" };

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(SHELL_CACHE);
      await cache.addAll(PRECACHE.map((url) => new Request(url, { cache: "reload", credentials: "same-origin" })));
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      const names = await caches.keys();
      await Promise.all(names.filter((name) => name.startsWith("et-shell-") && name !== SHELL_CACHE).map((name) => caches.delete(name)));
      await self.clients.claim();
    })(),
  );
});

function offlineProblem() {
  const body = JSON.stringify({
    type: "https://energytrack.app/problems/offline",
    title: "Offline",
    status: 503,
    detail: "You are offline and this has not been loaded before.",
    errors: {},
    offline: true,
  });
  return new Response(body, { status: 503, headers: { "Content-Type": "application/problem+json" } });
}

async function trimDataCache(cache) {
  const keys = await cache.keys();
  for (const request of keys.slice(0, Math.max(0, keys.length - DATA_CACHE_MAX))) await cache.delete(request);
}

// A read that stalls (a connection that neither answers nor fails) falls back to the cached
// copy after this long, as a failed read does; the body is read under the same limit.
const NETWORK_TIMEOUT_MS = 10000;
const NULL_BODY_STATUSES = new Set([101, 204, 205, 304]);

async function apiGet(request) {
  const cache = await caches.open(DATA_CACHE);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), NETWORK_TIMEOUT_MS);
  try {
    const response = await fetch(request, { signal: controller.signal });
    const body = NULL_BODY_STATUSES.has(response.status) ? null : await response.arrayBuffer();
    clearTimeout(timer);
    const init = { status: response.status, statusText: response.statusText };
    if (response.ok) {
      const headers = new Headers(response.headers);
      headers.set("X-ET-Cached-At", new Date().toISOString());
      await cache.put(request, new Response(body, Object.assign({ headers }, init)));
      trimDataCache(cache);
    } else if (response.status === 401 || response.status === 403) {
      await caches.delete(DATA_CACHE); // signed out elsewhere: keep nothing of the old session
    }
    return new Response(body, Object.assign({ headers: response.headers }, init));
  } catch (error) {
    clearTimeout(timer);
    const cached = await cache.match(request);
    return cached || offlineProblem();
  }
}

async function fromShell(request) {
  const cache = await caches.open(SHELL_CACHE);
  const cached = await cache.match(request, { ignoreSearch: false });
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok && new URL(request.url).pathname.startsWith("/static/")) cache.put(request, response.clone());
  return response;
}

async function navigation(request) {
  const cache = await caches.open(SHELL_CACHE);
  const shell = await cache.match(APP_SHELL);
  if (shell) return shell;
  try {
    return await fetch(request);
  } catch (error) {
    return new Response("Offline", { status: 503, headers: { "Content-Type": "text/plain" } });
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.method !== "GET") return;
  if (request.mode === "navigate") {
    if (url.pathname === "/app" || url.pathname.startsWith("/app/")) event.respondWith(navigation(request));
    return;
  }
  if (url.pathname.startsWith("/api/v1/")) {
    if (NO_STORE.some((prefix) => url.pathname.startsWith(prefix))) return;
    event.respondWith(apiGet(request));
    return;
  }
  if (url.pathname.startsWith("/static/") || url.pathname === "/manifest.webmanifest") {
    event.respondWith(fromShell(request));
  }
});

async function flushAndTell() {
  const summary = await self.ETOutbox.flush();
  const windows = await self.clients.matchAll({ type: "window" });
  for (const client of windows) client.postMessage({ type: "outbox-flushed", summary });
  return summary;
}

self.addEventListener("sync", (event) => {
  if (event.tag !== "et-outbox") return;
  event.waitUntil(
    flushAndTell().then((summary) => {
      // A rejected promise makes the browser try again later, with backoff.
      if (summary.state === "offline" || summary.state === "error") throw new Error(`outbox: ${summary.state}`);
    }),
  );
});

self.addEventListener("message", (event) => {
  const data = event.data || {};
  if (data.type === "flush") event.waitUntil(flushAndTell());
});

async function neutralText(kind) {
  let texts = null;
  try {
    texts = await self.ETOutbox.getMeta("pushText");
  } catch (error) {
    texts = null;
  }
  const table = texts && texts.default ? texts : FALLBACK_PUSH;
  return table[kind] || table.default;
}

function appPath(value, fallback) {
  // Only a path inside the app: a payload can never send the rep to another site.
  return typeof value === "string" && /^\/app(\/[a-z0-9/_-]*)?$/i.test(value) ? value : fallback;
}

// The payload's own words are shown only when the rep opted in to detailed notifications
// (the server then sets detailed: true); otherwise a neutral line in the rep's language.
async function notificationFor(data) {
  const kind = data && typeof data.kind === "string" && Object.prototype.hasOwnProperty.call(FALLBACK_PUSH, data.kind) ? data.kind : "default";
  const neutral = await neutralText(kind);
  const detailed = data && data.detailed === true && typeof data.title === "string" && data.title;
  return {
    title: detailed ? data.title.slice(0, 120) : neutral.title,
    body: detailed && typeof data.body === "string" ? data.body.slice(0, 400) : neutral.body,
    kind,
    url: appPath(data && data.url, PUSH_TARGETS[kind]),
  };
}

self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (error) {
    data = {}; // not JSON: show the neutral default
  }
  event.waitUntil(
    notificationFor(data).then((note) =>
      self.registration.showNotification(note.title, {
        body: note.body,
        tag: `et-${note.kind}`,
        icon: "/static/icons/icon-192.png",
        badge: "/static/icons/badge-96.png",
        data: { url: note.url },
      }),
    ),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const target = (event.notification.data && event.notification.data.url) || APP_SHELL;
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
      for (const client of windows) {
        if ("focus" in client) {
          await client.focus();
          if ("navigate" in client) await client.navigate(target);
          return;
        }
      }
      await self.clients.openWindow(target);
    })(),
  );
});
