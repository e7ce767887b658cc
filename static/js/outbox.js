// The offline outbox, shared by the page (imported as a module) and the service worker
// (importScripts). It uses no import/export so it runs in both; it publishes globalThis.ETOutbox.
//
// Every write the app makes is put here first, with a client UUID, then sent. An item leaves
// the outbox only after the server has answered for it (created/updated/unchanged/stale, or a
// refusal, which moves it to "failed" with the reason). A network error leaves it in place.
// The server's upserts are idempotent, so a resend after a lost answer stores nothing twice.
(function (scope) {
  "use strict";
  if (scope.ETOutbox) return;

  const DB_NAME = "energytrack";
  const DB_VERSION = 1;
  const BATCH_URL = "/api/v1/journal/batch";
  const CSRF_URL = "/api/v1/auth/csrf";
  const CHUNK = 100;
  const TIMEOUT_MS = 20000;
  const CHANNEL = "et-outbox";
  let dbPromise = null;

  function promisify(req) {
    return new Promise((resolve, reject) => {
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }

  function open() {
    if (!dbPromise) {
      dbPromise = new Promise((resolve, reject) => {
        const req = indexedDB.open(DB_NAME, DB_VERSION);
        req.onupgradeneeded = () => {
          const db = req.result;
          if (!db.objectStoreNames.contains("outbox")) db.createObjectStore("outbox", { keyPath: "key" });
          if (!db.objectStoreNames.contains("failed")) db.createObjectStore("failed", { keyPath: "key" });
          if (!db.objectStoreNames.contains("meta")) db.createObjectStore("meta", { keyPath: "k" });
        };
        req.onsuccess = () => {
          const db = req.result;
          db.onversionchange = () => {
            db.close();
            dbPromise = null;
          };
          resolve(db);
        };
        req.onerror = () => {
          dbPromise = null; // a refused open is tried again next time, not remembered
          reject(req.error);
        };
      });
    }
    return dbPromise;
  }

  async function tx(stores, mode, work) {
    const db = await open();
    return new Promise((resolve, reject) => {
      const transaction = db.transaction(stores, mode);
      let result;
      transaction.oncomplete = () => resolve(result);
      transaction.onerror = () => reject(transaction.error);
      transaction.onabort = () => reject(transaction.error);
      Promise.resolve(work(transaction)).then((value) => {
        result = value;
      }, reject);
    });
  }

  function uuid() {
    return scope.crypto.randomUUID();
  }

  function broadcast() {
    try {
      const channel = new BroadcastChannel(CHANNEL);
      channel.postMessage({ type: "changed" });
      channel.close();
    } catch (error) {
      // BroadcastChannel is missing only in very old browsers; the page polls on focus then.
    }
  }

  // op: {op: "upsert", kind, id, body} for journal entries (sent in one batch),
  //     {op: "delete", url} or {op: "put"|"post", url, body} for anything else; a journal
  //     deletion also has deletedAt (sent as ?deleted_at=, when the rep deleted it).
  async function enqueue(item) {
    const record = Object.assign({}, item, {
      key: item.key || (item.kind ? "journal:" + item.id : item.url),
      rev: uuid(),
      queuedAt: Date.now(),
    });
    if (!record.userId) throw new Error("outbox item without userId");
    await tx(["outbox", "failed"], "readwrite", (t) => {
      t.objectStore("outbox").put(record);
      t.objectStore("failed").delete(record.key);
    });
    broadcast();
    return record;
  }

  async function all(store, userId) {
    const items = await tx([store], "readonly", (t) => promisify(t.objectStore(store).getAll()));
    return items
      .filter((item) => userId === undefined || item.userId === userId)
      .sort((a, b) => a.queuedAt - b.queuedAt);
  }

  async function getMeta(k) {
    const row = await tx(["meta"], "readonly", (t) => promisify(t.objectStore("meta").get(k)));
    return row ? row.v : undefined;
  }

  async function setMeta(k, v) {
    await tx(["meta"], "readwrite", (t) => {
      if (v === undefined || v === null) t.objectStore("meta").delete(k);
      else t.objectStore("meta").put({ k, v });
    });
  }

  // Journal items the server stored lately, kept a while so that a screen whose list of entries
  // was read before they went (a copy from the service worker's cache, when the read after a
  // sync fails) still shows them: meta "sent", newest last.
  const SENT_KEEP = 50;
  const SENT_MAX_AGE_MS = 24 * 3600 * 1000;

  async function recordSent(item) {
    await tx(["meta"], "readwrite", async (t) => {
      const store = t.objectStore("meta");
      const row = await promisify(store.get("sent"));
      const now = Date.now();
      const kept = ((row && row.v) || []).filter((entry) => entry.key !== item.key && now - entry.sentAt < SENT_MAX_AGE_MS);
      kept.push({ key: item.key, op: item.op, kind: item.kind, id: item.id, body: item.body, userId: item.userId, sentAt: now });
      store.put({ k: "sent", v: kept.slice(-SENT_KEEP) });
    });
  }

  async function sent(userId) {
    return ((await getMeta("sent")) || []).filter((entry) => entry.userId === userId);
  }

  // Remove an item the server answered for, unless it was edited since it was sent.
  async function settle(item, failure) {
    let removed = false;
    await tx(["outbox", "failed"], "readwrite", async (t) => {
      const current = await promisify(t.objectStore("outbox").get(item.key));
      if (!current || current.rev !== item.rev) return;
      t.objectStore("outbox").delete(item.key);
      removed = true;
      if (failure) t.objectStore("failed").put(Object.assign({}, item, { failure, failedAt: Date.now() }));
    });
    if (removed && !failure && item.kind) await recordSent(item);
  }

  async function retryFailed(key) {
    const item = await tx(["failed"], "readonly", (t) => promisify(t.objectStore("failed").get(key)));
    if (!item) return;
    delete item.failure;
    delete item.failedAt;
    // Retrying a deletion deletes now: the first one may have lost to a later edit (409).
    if (item.deletedAt) item.deletedAt = new Date().toISOString();
    await enqueue(item);
  }

  async function discardFailed(key) {
    await tx(["failed"], "readwrite", (t) => t.objectStore("failed").delete(key));
    broadcast();
  }

  async function clearUser(userId) {
    await tx(["outbox", "failed", "meta"], "readwrite", async (t) => {
      for (const store of ["outbox", "failed"]) {
        const items = await promisify(t.objectStore(store).getAll());
        for (const item of items) if (item.userId === userId) t.objectStore(store).delete(item.key);
      }
      const row = await promisify(t.objectStore("meta").get("sent"));
      if (row) t.objectStore("meta").put({ k: "sent", v: row.v.filter((entry) => entry.userId !== userId) });
    });
    broadcast();
  }

  // The timeout covers reading the body too: an answer that stalls after its headers would
  // otherwise hold the flush lock, and with it every later sync, for as long as it hangs.
  async function send(url, options) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
    try {
      const response = await fetch(url, Object.assign({ credentials: "same-origin", signal: controller.signal }, options));
      const text = await response.text();
      return new Response(text === "" ? null : text, { status: response.status, statusText: response.statusText, headers: response.headers });
    } finally {
      clearTimeout(timer);
    }
  }

  // Retry-After in milliseconds (seconds or an HTTP date), or null when the server gave none.
  function retryAfterMs(response) {
    const value = response.headers.get("Retry-After");
    if (!value) return null;
    const seconds = Number(value);
    if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
    const at = Date.parse(value);
    return Number.isNaN(at) ? null : Math.max(0, at - Date.now());
  }

  async function problemOf(response) {
    try {
      return await response.json();
    } catch (error) {
      return { status: response.status, detail: response.statusText };
    }
  }

  function isCsrfFailure(response, body) {
    return response.status === 403 && String((body && body.detail) || "").indexOf("CSRF") === 0;
  }

  class Stop extends Error {
    constructor(state, status, retryAfter = null) {
      super(state);
      this.state = state;
      this.status = status;
      this.retryAfterMs = retryAfter;
    }
  }

  // Send one request with a fresh CSRF token; one retry if the token was rotated meanwhile.
  async function write(session, url, method, body) {
    for (let attempt = 0; attempt < 2; attempt += 1) {
      if (!session.token) {
        const tokenResponse = await send(CSRF_URL, { cache: "no-store" });
        if (!tokenResponse.ok) throw new Stop("error", tokenResponse.status, retryAfterMs(tokenResponse));
        session.token = (await tokenResponse.json()).csrf_token;
      }
      const headers = {
        Accept: "application/json",
        "X-CSRFToken": session.token,
        "X-Client-Time": new Date().toISOString(),
      };
      if (body !== undefined) headers["Content-Type"] = "application/json";
      const response = await send(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      if (response.status === 401) throw new Stop("auth", 401);
      if (response.status === 403) {
        const problem = await problemOf(response.clone());
        if (isCsrfFailure(response, problem) && attempt === 0) {
          session.token = null;
          continue;
        }
        if (isCsrfFailure(response, problem)) throw new Stop("auth", 403);
      }
      if (response.status >= 500 || response.status === 429 || response.status === 408) {
        throw new Stop("error", response.status, retryAfterMs(response));
      }
      if (response.status === 400) {
        // The phone's clock is off: nothing was saved; keep everything queued and say so.
        const problem = await problemOf(response.clone());
        if (String((problem && problem.type) || "").endsWith("/clock-skew")) throw new Stop("clock", 400);
      }
      return response;
    }
    throw new Stop("auth", 403);
  }

  // The summary's state is one of idle, signed-out, offline, error, auth or clock; the app shows
  // each as sync.state.<state> (tests/pwa/test_i18n.py checks every one has a text).
  async function flushNow() {
    const userId = await getMeta("userId");
    const summary = { state: "idle", sent: 0, failed: 0, remaining: 0 };
    if (!userId) return Object.assign(summary, { state: "signed-out" });
    const items = await all("outbox", userId);
    const session = { token: null };
    try {
      // Read once at the start: a sign-out (and another rep's sign-in) while the flush runs
      // must not send the first rep's items with the second rep's session.
      const stillTheirs = async () => {
        if ((await getMeta("userId")) !== userId) throw new Stop("signed-out");
      };
      const upserts = items.filter((item) => item.op === "upsert");
      for (let start = 0; start < upserts.length; start += CHUNK) {
        await stillTheirs();
        const chunk = upserts.slice(start, start + CHUNK);
        const payload = { items: chunk.map((item) => Object.assign({ kind: item.kind, id: item.id }, item.body)) };
        const response = await write(session, BATCH_URL, "POST", payload);
        if (!response.ok) {
          // The envelope itself was refused (should not happen): keep the items, report it.
          throw new Stop("error", response.status);
        }
        const answer = await response.json();
        for (const result of answer.results) {
          const item = chunk[result.index];
          if (!item) continue;
          if (result.result === "rejected" && result.status === 409) {
            // "Changed while it was being saved; send it again": a passing race, not the
            // rep's to fix. It stays queued and goes with the retry.
            summary.conflicts = (summary.conflicts || 0) + 1;
          } else if (result.result === "rejected") {
            summary.failed += 1;
            await settle(item, { status: result.status, code: result.code, category: result.category, detail: result.detail, errors: result.errors || {} });
          } else {
            summary.sent += 1;
            await settle(item);
          }
        }
      }
      for (const item of items.filter((entry) => entry.op !== "upsert")) {
        await stillTheirs();
        const method = item.op === "delete" ? "DELETE" : item.op === "post" ? "POST" : "PUT";
        const url = item.deletedAt ? `${item.url}?deleted_at=${encodeURIComponent(item.deletedAt)}` : item.url;
        const response = await write(session, url, method, item.op === "delete" ? undefined : item.body);
        if (response.ok || (method === "DELETE" && response.status === 404)) {
          summary.sent += 1;
          await settle(item);
        } else {
          const problem = await problemOf(response);
          summary.failed += 1;
          await settle(item, Object.assign({}, problem, { status: response.status, errors: problem.errors || {} }));
        }
      }
    } catch (error) {
      if (error instanceof Stop) Object.assign(summary, { state: error.state, status: error.status, retryAfterMs: error.retryAfterMs });
      else Object.assign(summary, { state: "offline" });
    }
    if (summary.conflicts && summary.state === "idle") Object.assign(summary, { state: "error", status: 409 });
    summary.remaining = (await all("outbox", userId)).length;
    await setMeta("lastSync", { at: Date.now(), state: summary.state });
    broadcast();
    return summary;
  }

  // One flush at a time per origin (page and service worker share the lock); a second caller
  // waits and then sends whatever is still left, so an item queued meanwhile is not missed.
  function flush() {
    if (scope.navigator && scope.navigator.locks) {
      return scope.navigator.locks.request("et-outbox-flush", flushNow);
    }
    return flushNow();
  }

  scope.ETOutbox = {
    CHANNEL,
    enqueue,
    pending: (userId) => all("outbox", userId),
    failed: (userId) => all("failed", userId),
    sent,
    retryFailed,
    discardFailed,
    clearUser,
    getMeta,
    setMeta,
    flush,
    uuid,
  };
})(globalThis);
