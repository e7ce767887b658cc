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

// A number as the rep types it back into a form: the app's decimal separator, no grouping.
export function fmtInput(value, digits = 2) {
  return formatter("number", { maximumFractionDigits: digits, useGrouping: false }).format(value);
}

// A decimal the rep typed (null when empty, NaN when it cannot be read). Not a number input:
// Chrome reads "1,5" there as 15 when the phone's own language writes a decimal point (the
// comma counts as a thousands separator), so a Dutch rep typing 1,5 drinks stored 15.
// `either`: "," and "." are both the decimal sign (small amounts that never need thousands).
// Otherwise the app's language decides (nl 1.250,50; en 1,250.50), and a thousands separator
// must be followed by groups of three digits, so "1250.50" in Dutch is refused, never 125050.
export function parseDecimal(text, { either = false } = {}) {
  const value = String(text ?? "").replace(/\s/g, "");
  if (value === "") return null;
  if (either) return /^\d+([.,]\d+)?$/.test(value) ? Number(value.replace(",", ".")) : NaN;
  const [group, decimal] = current === "nl" ? [".", ","] : [",", "."];
  const pattern = new RegExp(`^(\\d{1,3}(\\${group}\\d{3})+|\\d+)(\\${decimal}\\d+)?$`);
  if (!pattern.test(value)) return NaN;
  return Number(value.split(group).join("").replace(decimal, "."));
}
