// What reps shared with me as their coach: the weekly summaries they approved, nothing else.
import { h, replace } from "../dom.js";
import { t } from "../i18n.js";
import { showPage, summaryParts, weekText } from "../summaries.js";

export async function render(main) {
  const host = h("div", null, h("p", { class: "muted" }, t("common.loading")));
  replace(main, h("h1", null, t("screen.coach")), h("p", { class: "hint" }, t("coach.intro")), host);
  await showPage(host, "/coaching/coach/summaries", "coach.none", (summaries) =>
    summaries.map((summary) => {
      // A rep without a display name is named by the address the share came from.
      const who = summary.rep_name || summary.rep_email;
      return h("section", { class: "card", "aria-label": `${who} · ${weekText(summary)}` },
        h("h2", null, who),
        h("p", { class: "hint" }, weekText(summary)),
        summaryParts(summary),
      );
    }),
  );
}
