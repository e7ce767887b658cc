// What reps shared with me as their coach: the weekly summaries they approved, nothing else.
import { h, replace } from "../dom.js";
import { t } from "../i18n.js";
import { showPage, summaryParts, weekText } from "../summaries.js";

export async function render(main) {
  const host = h("div", null, h("p", { class: "muted" }, t("common.loading")));
  replace(main, h("h1", null, t("screen.coach")), h("p", { class: "hint" }, t("coach.intro")), host);
  await showPage(host, "/coaching/coach/summaries", "coach.none", (summaries) =>
    summaries.map((summary) =>
      h("section", { class: "card", "aria-label": `${summary.rep_name} · ${weekText(summary)}` },
        h("h2", null, summary.rep_name),
        h("p", { class: "hint" }, weekText(summary)),
        summaryParts(summary),
      ),
    ),
  );
}
