// Dutch and English strings. Both dictionaries are small, so both are bundled: switching
// language never needs the network. A key missing in one language falls back to English and
// is recorded in MISSING, which the browser tests assert is empty.
import en from "./locales/en.js";
import nl from "./locales/nl.js";

export const DICTIONARIES = { en, nl };
export const LANGUAGES = ["en", "nl"];
export const MISSING = new Set();
const STORAGE_KEY = "et.lang";
let current = "en";
const plurals = {};

export function browserLanguage() {
  const candidates = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || "en"];
  for (const tag of candidates) {
    const base = String(tag).toLowerCase().split("-")[0];
    if (LANGUAGES.includes(base)) return base;
  }
  return "en";
}

// "auto" (follow the device), "nl" or "en".
export function languageChoice() {
  const stored = localStorage.getItem(STORAGE_KEY);
  return LANGUAGES.includes(stored) ? stored : "auto";
}

export function setLanguageChoice(choice) {
  if (LANGUAGES.includes(choice)) localStorage.setItem(STORAGE_KEY, choice);
  else localStorage.removeItem(STORAGE_KEY);
  return applyLanguage(effectiveLanguage());
}

export function effectiveLanguage() {
  const choice = languageChoice();
  return choice === "auto" ? browserLanguage() : choice;
}

export function applyLanguage(lang) {
  current = LANGUAGES.includes(lang) ? lang : "en";
  document.documentElement.lang = current;
  return current;
}

export function lang() {
  return current;
}

function lookup(key) {
  let value = DICTIONARIES[current][key];
  if (value === undefined) {
    MISSING.add(`${current}:${key}`);
    value = DICTIONARIES.en[key];
  }
  return value;
}

export function t(key, params) {
  let value = lookup(key);
  if (value === undefined) return key;
  if (typeof value === "object") {
    plurals[current] = plurals[current] || new Intl.PluralRules(current);
    value = value[plurals[current].select(Number(params && params.count))] ?? value.other;
  }
  if (!params) return value;
  return value.replace(/\{(\w+)\}/g, (match, name) => (name in params ? String(params[name]) : match));
}

export function has(key) {
  return DICTIONARIES[current][key] !== undefined || DICTIONARIES.en[key] !== undefined;
}

// Intl formatters are slow to build: one per language and options, reused.
const formatters = new Map();
function formatter(kind, options) {
  const key = `${current}|${kind}|${JSON.stringify(options)}`;
  let value = formatters.get(key);
  if (!value) {
    value = kind === "date" ? new Intl.DateTimeFormat(current, options) : new Intl.NumberFormat(current, options);
    formatters.set(key, value);
  }
  return value;
}

export function fmtTime(date) {
  return formatter("date", { hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(date);
}

export function fmtDate(date, options = { weekday: "long", day: "numeric", month: "long" }) {
  return formatter("date", options).format(date);
}

export function fmtNumber(value, digits = 1) {
  return formatter("number", { maximumFractionDigits: digits }).format(value);
}
