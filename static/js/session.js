// Who is signed in. The profile is kept in localStorage so the app starts offline; it holds
// no lifestyle data (e-mail, name, time zone, language, day boundary).
import { ApiError, OfflineError, api, csrf, forgetCsrf } from "./api.js";
import * as sync from "./sync.js";

const ME_KEY = "et.me";
const CONSENTS_KEY = "et.consents";
const DATA_CACHE = "et-data-v1";
export const KIND_CATEGORY = {
  energy: "energy",
  sleep: "sleep",
  meal: "food",
  exercise: "exercise",
  alcohol: "alcohol",
  activity: "activities",
};

export const session = { me: null, consents: null };

function readJson(key) {
  try {
    return JSON.parse(localStorage.getItem(key) || "null");
  } catch {
    return null;
  }
}

async function remember(me) {
  session.me = me;
  if (me) localStorage.setItem(ME_KEY, JSON.stringify(me));
  else localStorage.removeItem(ME_KEY);
  // An expired session keeps the outbox's user, so a save in a form that is still open is
  // queued rather than lost; only an explicit sign-out lets go of it (forgetLocalData).
  // The outbox's copy (for the service worker) is written in the background.
  if (me) sync.setUser(me.id);
}

// Returns the user, or null when signed out. Offline, the last known profile is used.
export async function loadMe() {
  try {
    await remember(await api("/auth/me"));
  } catch (error) {
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) await remember(null);
    else await remember(readJson(ME_KEY)); // offline or a server hiccup: keep going offline-style
  }
  return session.me;
}

export function cachedMe() {
  return readJson(ME_KEY);
}

export async function updateMe(changes) {
  await remember(await api("/auth/me", { method: "PATCH", body: changes }));
  return session.me;
}

export async function login(email, password) {
  await csrf(true);
  const me = await api("/auth/login", { method: "POST", body: { email, password } });
  forgetCsrf(); // login rotates the token
  await remember(me);
  session.consents = null;
  sync.requestSync(); // whatever was queued while the session had expired goes out now
  return me;
}

// A coach takes up a rep's share: signed in already, or creating the account now (the server
// then signs the new account in, which rotates the CSRF token as a login does).
export async function acceptCoachInvitation(body) {
  await csrf(true);
  const share = await api("/coaching/invitations/accept", { method: "POST", body });
  forgetCsrf();
  await loadMe();
  return share;
}

async function forgetLocalData(userId) {
  if (userId) await sync.clearUser(userId);
  localStorage.removeItem(CONSENTS_KEY);
  localStorage.removeItem("et.lastNight");
  if ("caches" in window) await caches.delete(DATA_CACHE);
  session.consents = null;
  await remember(null);
  await sync.setUser(null);
}

export async function logout() {
  const userId = session.me && session.me.id;
  try {
    await api("/auth/logout", { method: "POST" });
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
  }
  forgetCsrf();
  await forgetLocalData(userId);
}

export async function accountDeleted() {
  const userId = session.me && session.me.id;
  forgetCsrf();
  await forgetLocalData(userId);
}

// Consent per category: {sleep: true, ...}; null when never loaded and offline.
export async function loadConsents({ fresh = false } = {}) {
  if (session.consents && !fresh) return session.consents;
  try {
    const rows = await api("/privacy/consents");
    session.consents = Object.fromEntries(rows.map((row) => [row.category, row.granted]));
    session.consentRows = rows;
    localStorage.setItem(CONSENTS_KEY, JSON.stringify(session.consents));
  } catch (error) {
    if (!(error instanceof OfflineError)) throw error;
    session.consents = readJson(CONSENTS_KEY);
  }
  return session.consents;
}

export function setConsent(category, granted) {
  session.consents = { ...(session.consents || {}), [category]: granted };
  localStorage.setItem(CONSENTS_KEY, JSON.stringify(session.consents));
}

// Unknown (offline, never loaded) counts as allowed: the server decides and says why not.
export function allowed(kind) {
  const category = KIND_CATEGORY[kind] || kind;
  return !session.consents || session.consents[category] !== false;
}
