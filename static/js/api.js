// The one way the app talks to the API: same-origin session cookie, CSRF header on writes,
// problem+json errors turned into ApiError. GETs go through the service worker, which answers
// from its cache when the network is gone (and says so with X-ET-Cached-At).
import { has, lang, t } from "./i18n.js";

const BASE = "/api/v1";
let csrfToken = null;

export class ApiError extends Error {
  constructor(status, body) {
    super(problemText(status, body));
    this.status = status;
    this.body = body || {};
    this.errors = (body && body.errors) || {};
  }
}

// What a screen shows for a refused request, in the app's language. The server's problem
// details are English: a known code or status has words of its own; a refusal the app cannot
// name keeps the detail in English and gets a general sentence in Dutch (its field errors are
// shown beside the fields).
const STATUS_TEXT = {
  401: "problem.signin",
  403: "problem.forbidden",
  404: "problem.notfound",
  409: "problem.conflict",
  413: "problem.toolarge",
  429: "problem.ratelimited",
  503: "problem.unavailable",
};

// The server names a refusal in its problem's type (https://energytrack.app/problems/<code>);
// batch results and the outbox's settled items carry the same name as `code`.
export function problemCode(body) {
  if (!body) return undefined;
  if (body.code) return body.code;
  const type = String(body.type || "");
  const at = type.lastIndexOf("/problems/");
  return at >= 0 ? type.slice(at + "/problems/".length) : undefined;
}

export function problemText(status, body) {
  const code = problemCode(body);
  if (code === "consent-required" && body.category && has(`category.${body.category}`)) {
    return t("consent.needed", { category: t(`category.${body.category}`) });
  }
  if (code && has(`problem.${code}`)) return t(`problem.${code}`);
  if (STATUS_TEXT[status]) return t(STATUS_TEXT[status]);
  if (status >= 500) return t("problem.server");
  const detail = body && body.detail;
  return detail && lang() === "en" ? detail : t("problem.refused");
}

export class OfflineError extends Error {
  constructor() {
    super("offline");
    this.offline = true;
  }
}

// How long a request may stall before it counts as failed (a bad connection that never answers).
const REQUEST_TIMEOUT_MS = 20000;

export async function csrf(force = false) {
  if (!csrfToken || force) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
    let response;
    let token;
    try {
      response = await fetch(`${BASE}/auth/csrf`, { credentials: "same-origin", cache: "no-store", signal: controller.signal });
      if (response.ok) token = (await response.json()).csrf_token;
    } catch {
      throw new OfflineError();
    } finally {
      clearTimeout(timer);
    }
    if (!response.ok) throw new ApiError(response.status, null);
    csrfToken = token;
  }
  return csrfToken;
}

export function forgetCsrf() {
  csrfToken = null;
}

// navigator.onLine only knows about the network interface; a failed request tells the truth.
export const network = { reachable: true };

window.addEventListener("online", () => reachable(true));
window.addEventListener("offline", () => reachable(false));

export function isOffline() {
  return !navigator.onLine || !network.reachable;
}

export function reachable(value) {
  if (network.reachable === value) return;
  network.reachable = value;
  window.dispatchEvent(new CustomEvent("et:network"));
}

export async function request(path, { method = "GET", body, retried = false } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") {
    headers["X-CSRFToken"] = await csrf();
    // The server refuses writes from a clock more than 10 minutes off (their times are wrong).
    headers["X-Client-Time"] = new Date().toISOString();
  }
  if (body !== undefined) headers["Content-Type"] = "application/json";
  // A request that stalls is given up like one that failed (the service worker answers a read
  // from its cache sooner); the answer's body is read under the same limit.
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
  let response;
  let data;
  try {
    response = await fetch(BASE + path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: controller.signal,
    });
    data = response.status === 204 ? null : await response.json().catch((error) => {
      if (controller.signal.aborted) throw error;
      return null;
    });
  } catch {
    reachable(false);
    throw new OfflineError();
  } finally {
    clearTimeout(timer);
  }
  if (response.status === 503 && data && data.offline) {
    reachable(false);
    throw new OfflineError();
  }
  // An answer served from the service worker's cache means the network failed just now.
  reachable(!response.headers.get("X-ET-Cached-At"));
  if (response.status === 204) return { data: null, cachedAt: null };
  if (!response.ok) {
    if (response.status === 403 && !retried && method !== "GET" && data && String(data.detail || "").startsWith("CSRF")) {
      await csrf(true);
      return request(path, { method, body, retried: true });
    }
    if (response.status === 401) window.dispatchEvent(new CustomEvent("et:unauthorized"));
    throw new ApiError(response.status, data);
  }
  return { data, cachedAt: response.headers.get("X-ET-Cached-At") };
}

export async function api(path, options) {
  return (await request(path, options)).data;
}
