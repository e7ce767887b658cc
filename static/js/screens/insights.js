// Insights: private findings with their evidence in plain words, feedback, and progress.
import { h, replace, redraw, toast } from "../dom.js";
import { t, lang, fmtDate } from "../i18n.js";
import { request, api, OfflineError } from "../api.js";
import { dayToDate } from "../dates.js";
import { queue } from "../sync.js";

// The API sends the figures in the sentence's units and decimals; show them exactly so.
// Money names its currency by ISO code, as the sentence does ("EUR 1,235", "EUR 1.235");
// an insight stored before insights named their currency has none and shows the bare figure.
function number(e, value) {
  const digits = { minimumFractionDigits: e.decimals, maximumFractionDigits: e.decimals };
  const money = e.unit === "money" && e.currency ? { style: "currency", currency: e.currency, currencyDisplay: "code" } : {};
  return new Intl.NumberFormat(lang(), { ...digits, ...money }).format(value);
}

function figure(e, value) {
  return e.unit === "percent" ? `${number(e, value)}%` : number(e, value);
}

function interval(e) {
  const [low, high] = e.difference_interval;
  // A difference of shares is in percentage points, said once after the upper figure.
  const upper = (value) => (e.unit === "percent" ? t("insights.evidence.points", { value: number(e, value) }) : number(e, value));
  if (e.interval_includes_zero) {
    // Signed, with no direction: a range through zero does not say which way it goes.
    return t("insights.evidence.interval_zero", { low: number(e, low), high: upper(high) });
  }
  const direction = high < 0 ? "lower" : "higher";
  const [from, to] = direction === "lower" ? [-high, -low] : [low, high];
  return t("insights.evidence.interval", { low: number(e, from), high: upper(to), direction: t(`insights.direction.${direction}`) });
}

function evidence(insight) {
  const e = insight.evidence;
  const lines = [
    t("insights.evidence.days", { high: e.days_high, low: e.days_low }),
    t("insights.evidence.means", { high: figure(e, e.mean_high), low: figure(e, e.mean_low) }),
    interval(e),
    t("insights.evidence.chance"),
  ];
  return h("ul", { class: "evidence" }, lines.map((line) => h("li", null, line)));
}

function feedbackButtons(insight, onChange) {
  const make = (value) =>
    h(
      "button",
      {
        type: "button",
        class: "button small",
        dataset: { focus: `feedback-${insight.id}-${value}` },
        "aria-pressed": insight.feedback === value ? "true" : "false",
        onclick: async () => {
          insight.feedback = value;
          // Queued like any write: works offline, sent once the connection is back.
          await queue({ op: "post", url: `/api/v1/insights/${insight.id}/feedback`, body: { feedback: value } });
          toast(t("insights.feedback.thanks"));
          onChange();
        },
      },
      t(`insights.feedback.${value}`),
    );
  return h("div", { class: "actions", role: "group", "aria-label": t("insights.feedback.label") }, make("helpful"), make("not_helpful"));
}

export async function render(main) {
  const list = h("div", null, h("p", { class: "muted" }, t("common.loading")));
  const progressHost = h("div");
  replace(
    main,
    h("h1", null, t("screen.insights")),
    h("p", { class: "hint" }, t("insights.private")),
    list,
    h("section", { class: "card", "aria-labelledby": "progress-title" }, h("h2", { id: "progress-title" }, t("insights.progress.title")), progressHost),
  );

  let data;
  try {
    data = (await request("/insights/")).data;
  } catch (error) {
    replace(list, h("p", { class: "muted" }, error instanceof OfflineError ? t("insights.offline") : t("error.generic")));
    replace(progressHost);
    return;
  }

  function draw() {
    const visible = data.insights.filter((insight) => insight.status !== "dismissed");
    if (!visible.length) {
      redraw(list, [h("section", { class: "card" }, h("h2", null, t("insights.none.title")), h("p", null, t("insights.none.body")))], () => main.querySelector("h1"));
    } else {
      // Feedback redraws the list: the pressed button keeps focus.
      redraw(
        list,
        [h(
          "ul",
          { class: "insight-list" },
          visible.map((insight) =>
            h(
              "li",
              null,
              h(
                "article",
                { class: "card insight", "aria-labelledby": `insight-${insight.id}` },
                h("h2", { id: `insight-${insight.id}`, class: "insight-message" }, insight.message),
                h("p", { class: "muted" }, t("insights.found", { date: fmtDate(dayToDate(insight.computed_on), { day: "numeric", month: "long" }) }), insight.status === "new" ? h("span", { class: "badge badge-new" }, t("insights.new")) : null),
                h("details", null, h("summary", null, t("insights.evidence.title")), evidence(insight)),
                feedbackButtons(insight, draw),
                h(
                  "button",
                  {
                    type: "button",
                    class: "button small link",
                    onclick: async () => {
                      insight.status = "dismissed";
                      await queue({ op: "post", url: `/api/v1/insights/${insight.id}/status`, body: { status: "dismissed" } });
                      draw(); // the insight is gone: focus goes to the screen's heading
                    },
                  },
                  t("insights.dismiss"),
                ),
              ),
            ),
          ),
        )],
        () => main.querySelector("h1"),
      );
    }
    const progress = data.progress || [];
    replace(
      progressHost,
      progress.length
        ? h(
            "ul",
            { class: "progress-list" },
            progress.map((row, index) =>
              h(
                "li",
                null,
                h("p", { id: `progress-${index}` }, row.message),
                h("progress", { max: row.days_logged + row.days_needed, value: row.days_logged, "aria-labelledby": `progress-${index}` }),
                h("p", { class: "muted" }, t("insights.progress.more", { count: row.days_needed })),
              ),
            ),
          )
        : h("p", { class: "muted" }, t("insights.progress.none")),
    );
  }
  draw();

  // Seen now: mark new insights read (fire and forget; the next visit retries if offline).
  for (const insight of data.insights.filter((i) => i.status === "new")) {
    api(`/insights/${insight.id}/status`, { method: "POST", body: { status: "read" } }).catch(() => null);
  }
}
