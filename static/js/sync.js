// Page side of the outbox: queue a write, then ask for it to be sent. Where the browser has
// Background Sync, a sync is registered so the service worker sends when the connection is
// back, even after the app was closed; the open page also sends on `online`, on start and
// right after queueing. Page and worker share one lock (outbox.js), so they never race.
import "./outbox.js";
import { reachable } from "./api.js";

const outbox = globalThis.ETOutbox;
const listeners = new Set();
let userId = null;
let channel = null;

let userSaved = Promise.resolve();
export function setUser(id) {
  userId = id;
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
  if (!userId) return { pending: [], failed: [], lastSync: null };
  const [pending, failed, lastSync] = await Promise.all([
    outbox.pending(userId),
    outbox.failed(userId),
    outbox.getMeta("lastSync"),
  ]);
  return { pending, failed, lastSync };
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

export function deleteEntry(kind, id) {
  return queue({ op: "delete", kind, id, url: `/api/v1/journal/${kind}/${id}` });
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
    let summary;
    do {
      again = false;
      summary = await outbox.flush();
      if (summary.state === "offline") reachable(false);
      else if (summary.sent || summary.failed) reachable(true);
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
  const summary = await outbox.flush();
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
