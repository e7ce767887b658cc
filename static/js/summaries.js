// A coaching summary as people read it: the coach what was approved, the rep the draft.
import { h, replace } from "./dom.js";
import { t, fmtDate } from "./i18n.js";
import { api, OfflineError } from "./api.js";

const SECTIONS = ["energy_trend", "sleep_regularity", "sales_quality_trend"];

// One summary's parts. ``onRemove(change, label)`` (the rep's draft) adds a control per part.
export function summaryParts(summary, { onRemove } = {}) {
  const parts = [];
  for (const name of SECTIONS) {
    const section = summary.sections[name];
    if (!section) continue;
    parts.push(h("li", { class: "summary-part" },
      h("span", { class: "summary-label" }, t(`privacy.scope.${name}`)),
      h("p", null, section.text),
      onRemove ? onRemove({ remove_sections: [name] }, t(`privacy.scope.${name}`)) : null,
    ));
  }
  for (const insight of summary.sections.chosen_insights || []) {
    parts.push(h("li", { class: "summary-part" },
      h("span", { class: "summary-label" }, t("privacy.scope.chosen_insights")),
      h("p", null, insight.message),
      onRemove && insight.id ? onRemove({ remove_insight_ids: [insight.id] }, insight.message) : null,
    ));
  }
  if (summary.note) {
    parts.push(h("li", { class: "summary-part" }, h("span", { class: "summary-label" }, t("coach.note")), h("p", null, summary.note)));
  }
  return parts.length ? h("ul", { class: "plain-list summary-parts" }, parts) : h("p", { class: "muted" }, t("coach.empty.summary"));
}

export function weekText(summary) {
  const options = { day: "numeric", month: "long" };
  return t("coach.week", { from: fmtDate(new Date(`${summary.week_start}T12:00:00`), options), to: fmtDate(new Date(`${summary.week_end}T12:00:00`), options) });
}

// The first page of a list into ``host``: its items drawn by ``draw``, a sentence when empty,
// and what went wrong in the app's words (offline, or the refusal's text) when it failed.
export async function showPage(host, path, emptyKey, draw) {
  let page;
  try {
    page = await api(path);
  } catch (error) {
    replace(host, h("p", { class: "muted" }, error instanceof OfflineError ? t("error.offline.action") : error.message || t("error.generic")));
    return;
  }
  if (!page.results.length) replace(host, h("p", null, t(emptyKey)));
  else replace(host, draw(page.results));
}
