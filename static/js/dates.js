// Local-day arithmetic on the device clock. An entry carries the device's time zone, and the
// server files it under the local day in that zone (with the user's day boundary, so a drink
// at 01:00 belongs to the evening before); the app computes the same day to list it.

export function deviceZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

function pad(n) {
  return String(n).padStart(2, "0");
}

export function isoDay(date) {
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

export function localDay(date, boundaryHour = 4) {
  return isoDay(new Date(date.getTime() - boundaryHour * 3600 * 1000));
}

export function addDays(day, n) {
  const [y, m, d] = day.split("-").map(Number);
  return isoDay(new Date(y, m - 1, d + n, 12));
}

export function dayToDate(day) {
  const [y, m, d] = day.split("-").map(Number);
  return new Date(y, m - 1, d, 12);
}

export function atTime(day, hhmm) {
  const [y, m, d] = day.split("-").map(Number);
  const [hh, mm] = hhmm.split(":").map(Number);
  return new Date(y, m - 1, d, hh, mm, 0, 0);
}

export function timeOf(date) {
  return `${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

export function entryDay(kind, occurredAt, boundaryHour) {
  const date = new Date(occurredAt);
  return kind === "sleep" ? isoDay(date) : localDay(date, boundaryHour);
}
