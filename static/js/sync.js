// Page side of the outbox: queue a write, then ask for it to be sent. Where the browser has
// Background Sync, a sync is registered so the service worker sends when the connection is
// back, even after the app was closed; the open page also sends on `online`, on start, right
// after queueing and after signing in, and tries again by itself after a passing failure.
// Page and worker share one lock (outbox.js), so they never race.
import "./outbox.js";
import { reachable } from "./api.js";

const outbox = globalThis.ETOutbox;
const listeners = new Set();
let userId = null;
let channel = null;

let userSaved = Promise.resolve();
export function setUser(id) {
  userId = id;
  if (!id) cancelRetry();
  userSaved = outbox.setMeta("userId", id || null);
  return userSaved;
}

export function onChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function changed() {
  for (const listener of listeners) listener();
}

export async function status() {
  if (!userId) return { pending: [], failed: [], sent: [], lastSync: null };
  const [pending, failed, sent, lastSync] = await Promise.all([
    outbox.pending(userId),
    outbox.failed(userId),
    outbox.sent(userId),
    outbox.getMeta("lastSync"),
  ]);
  return { pending, failed, sent, lastSync };
}

export async function queue(item) {
  await userSaved; // the service worker sends only the signed-in user's items
  const record = await outbox.enqueue({ ...item, userId });
  changed();
  requestSync();
  return record;
}

export function upsertEntry(kind, id, body) {
  return queue({ op: "upsert", kind, id, body });
}

// The deletion carries when the rep made it: last write wins by the phone's clock, so an edit
// made on another phone after it (but received first) keeps the entry, an older one does not.
export function deleteEntry(kind, id) {
  return queue({ op: "delete", kind, id, url: `/api/v1/journal/${kind}/${id}`, deletedAt: new Date().toISOString() });
}

export async function retry(key) {
  await outbox.retryFailed(key);
  changed();
  requestSync();
}

export async function discard(key) {
  await outbox.discardFailed(key);
  changed();
}

export function clearUser(id) {
  return outbox.clearUser(id);
}

async function controllingWorker() {
  if (!("serviceWorker" in navigator) || !navigator.serviceWorker.controller) return null;
  const registration = await navigator.serviceWorker.getRegistration();
  return registration && registration.active ? registration : null;
}

let running = null;
let again = false;

async function registerBackgroundSync() {
  const registration = await controllingWorker();
  if (!registration || !("sync" in registration)) return false;
  try {
    // The browser fires it when the connection is back, even if the app has been closed.
    await registration.sync.register("et-outbox");
    return true;
  } catch {
    return false; // e.g. refused by a browser setting: the page sends instead
  }
}

// While the app is open, a flush that failed for a passing reason (no answer, a timeout, 5xx,
// 408, 429) is tried again by itself: Background Sync is missing in many browsers and may wait
// minutes where it exists. Capped exponential backoff with jitter, so phones do not all come
// back at once to a server that is recovering; the server's Retry-After wins when it sends one.
const RETRY_BASE_MS = 2000;
const RETRY_MAX_MS = 5 * 60 * 1000;
const RETRY_AFTER_MAX_MS = 60 * 60 * 1000; // a bogus Retry-After must not park entries for days
const RETRY_STATES = new Set(["offline", "error"]);
let retryTimer = null;
let retryAttempt = 0;

function cancelRetry() {
  clearTimeout(retryTimer);
  retryTimer = null;
}

function retryDelay(summary) {
  if (summary.retryAfterMs !== null && summary.retryAfterMs !== undefined) {
    return Math.min(summary.retryAfterMs, RETRY_AFTER_MAX_MS) + Math.random() * 1000;
  }
  const ceiling = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** retryAttempt);
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

function afterFlush(summary) {
  if (summary.state === "offline") reachable(false);
  else if (summary.sent || summary.failed) reachable(true);
  cancelRetry();
  if (RETRY_STATES.has(summary.state) && summary.remaining > 0) {
    const delay = retryDelay(summary);
    retryAttempt += 1;
    retryTimer = setTimeout(() => {
      retryTimer = null;
      requestSync();
    }, delay);
    return;
  }
  retryAttempt = 0;
  // The session is gone: the app shows the sign-in screen; the entries stay queued for after it.
  if (summary.state === "auth") window.dispatchEvent(new CustomEvent("et:unauthorized"));
}

export function requestSync() {
  if (!userId) return Promise.resolve(null);
  registerBackgroundSync();
  if (!navigator.onLine) {
    changed();
    return Promise.resolve(null);
  }
  if (running) {
    again = true; // an item queued during a flush goes out right after it
    return running;
  }
  running = (async () => {
    await userSaved; // the flush reads the signed-in user from IndexedDB
    let summary;
    do {
      again = false;
      summary = await outbox.flush();
      afterFlush(summary);
    } while (again && summary.state === "idle");
    return summary;
  })().finally(() => {
    running = null;
    changed();
  });
  return running;
}

// Send from the page itself, waiting for the result (the "Sync now" button).
export async function syncNow() {
  await userSaved;
  const summary = await outbox.flush();
  afterFlush(summary);
  changed();
  return summary;
}

export function start() {
  window.addEventListener("online", () => requestSync());
  window.addEventListener("offline", changed);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") requestSync();
  });
  if ("BroadcastChannel" in window) {
    channel = new BroadcastChannel(outbox.CHANNEL);
    channel.onmessage = changed;
  }
  requestSync();
}

export function publishLanguage(language, pushTexts) {
  return Promise.all([outbox.setMeta("lang", language), outbox.setMeta("pushText", pushTexts)]);
}
