// Trends: the rep's own series, pre-aggregated by the server (one request per chart).
import { h, replace, segmented } from "../dom.js";
import { t, fmtNumber } from "../i18n.js";
import { request, OfflineError } from "../api.js";
import { dayToDate } from "../dates.js";
import { COLORS, loadUPlot, energyDaily, energyByHour, scatter } from "../charts.js";

const RANGES = ["week", "month", "quarter", "year"];
const RANGE_KEY = "et.trendRange";

function mean(values) {
  const present = values.filter((v) => v !== null && v !== undefined);
  return present.length ? present.reduce((a, b) => a + b, 0) / present.length : null;
}

function legend(items) {
  return h("ul", { class: "legend" }, items.map(([color, label, shape]) => h("li", null, h("span", { class: `swatch ${shape}`, "aria-hidden": "true" }), label)));
}

function card(id, title, explain) {
  const summary = h("p", { class: "chart-summary", id: `${id}-summary` }, t("common.loading"));
  const chart = h("div", { class: `chart chart-${id}`, role: "img", "aria-labelledby": `${id}-title`, "aria-describedby": `${id}-summary` });
  const legendHost = h("div");
  const section = h("section", { class: "card chart-card", "aria-labelledby": `${id}-title` }, h("h2", { id: `${id}-title` }, title), h("p", { class: "hint" }, explain), summary, chart, legendHost);
  return { section, summary, chart, legendHost };
}

const SERIES = ["energy-daily", "energy-by-hour", "sleep-vs-energy", "qualified-vs-energy"];
let early = null;

function storedRange() {
  const range = localStorage.getItem(RANGE_KEY);
  return RANGES.includes(range) ? range : "month";
}

function fetchSeries(range) {
  return Promise.all(SERIES.map((name) => request(`/insights/trends/${name}?range=${range}`)));
}

// Called by the app while it is still checking the session, so the chart data and the chart
// library are on their way before the screen is drawn.
export function prefetch() {
  const range = storedRange();
  early = { range, series: fetchSeries(range), uPlot: loadUPlot() };
  early.series.catch(() => null);
  early.uPlot.catch(() => null);
}

export async function render(main) {
  let range = storedRange();
  const plots = [];
  const cards = {
    daily: card("chart-daily", t("trends.daily.title"), t("trends.daily.explain")),
    hourly: card("chart-hourly", t("trends.hourly.title"), t("trends.hourly.explain")),
    sleep: card("chart-sleep", t("trends.sleep.title"), t("trends.sleep.explain")),
    qualified: card("chart-qualified", t("trends.qualified.title"), t("trends.qualified.explain")),
  };
  const rangePicker = segmented("range", t("trends.range"), RANGES.map((r) => [r, t(`trends.range.${r}`)]), range);
  rangePicker.classList.add("range-picker");
  const notice = h("p", { class: "notice", hidden: true });
  rangePicker.addEventListener("change", (event) => {
    range = event.target.value;
    localStorage.setItem(RANGE_KEY, range);
    load();
  });
  replace(main, h("h1", null, t("screen.trends")), rangePicker, notice, ...Object.values(cards).map((c) => c.section));

  function destroy() {
    while (plots.length) plots.pop().destroy();
  }

  function widthOf(el) {
    return Math.max(240, Math.floor(el.getBoundingClientRect().width || 320));
  }

  function empty(c, message) {
    c.summary.textContent = message;
    replace(c.chart);
    c.chart.hidden = true;
    replace(c.legendHost);
  }

  let token = 0;
  async function load() {
    const mine = ++token;
    destroy();
    for (const c of Object.values(cards)) {
      c.summary.textContent = t("common.loading");
    }
    const reuse = early && early.range === range ? early : null;
    early = null;
    const uPlotPromise = reuse ? reuse.uPlot : loadUPlot();
    let results;
    try {
      results = await (reuse ? reuse.series : fetchSeries(range));
    } catch (error) {
      if (mine !== token) return;
      for (const c of Object.values(cards)) empty(c, error instanceof OfflineError ? t("trends.offline") : t("error.generic"));
      return;
    }
    if (mine !== token) return;
    const [daily, hourly, sleep, qualified] = results;
    const cachedAt = results.map((r) => r.cachedAt).find(Boolean);
    notice.hidden = !cachedAt;
    notice.textContent = cachedAt ? t("common.cachedAt", { time: new Date(cachedAt).toLocaleTimeString(document.documentElement.lang, { hour: "2-digit", minute: "2-digit" }) }) : "";

    // Words first (they need no chart library), then the charts.
    const draws = [];
    // Energy by day with its 7-day average.
    {
      const c = cards.daily;
      const points = daily.data.points;
      const logged = points.filter((p) => p.energy !== null);
      if (!logged.length) empty(c, t("trends.empty"));
      else {
        c.chart.hidden = false;
        const x = points.map((p) => dayToDate(p.date).getTime() / 1000);
        c.summary.textContent = t("trends.daily.summary", { mean: fmtNumber(mean(logged.map((p) => p.energy))), count: logged.length, last: fmtNumber(points[points.length - 1].avg7 ?? mean(logged.map((p) => p.energy))) });
        draws.push([c.chart, (uPlot) => energyDaily(uPlot, c.chart, widthOf(c.chart), { x, energy: points.map((p) => p.energy), avg7: points.map((p) => p.avg7) }, { y: t("trends.axis.energy"), energy: t("trends.legend.day"), avg7: t("trends.legend.avg7") })]);
        replace(c.legendHost, legend([[COLORS.energy, t("trends.legend.day"), "dot"], [COLORS.avg, t("trends.legend.avg7"), "line"]]));
      }
    }
    // Energy by hour of day.
    {
      const c = cards.hourly;
      const points = hourly.data.points.filter((p) => p.energy !== null);
      if (!points.length) empty(c, t("trends.empty"));
      else {
        c.chart.hidden = false;
        const best = points.reduce((a, b) => (b.energy > a.energy ? b : a));
        const worst = points.reduce((a, b) => (b.energy < a.energy ? b : a));
        c.summary.textContent = t("trends.hourly.summary", { best: best.hour, bestValue: fmtNumber(best.energy), worst: worst.hour, worstValue: fmtNumber(worst.energy) });
        draws.push([c.chart, (uPlot) => energyByHour(uPlot, c.chart, widthOf(c.chart), { x: points.map((p) => p.hour), energy: points.map((p) => p.energy) }, { x: t("trends.axis.hour"), y: t("trends.axis.energy"), energy: t("trends.axis.energy") })]);
        replace(c.legendHost);
      }
    }
    // Sleep vs the next day's energy (a night belongs to the day it ends).
    {
      const c = cards.sleep;
      const points = [...sleep.data.points].sort((a, b) => a.sleep_hours - b.sleep_hours);
      if (points.length < 2) empty(c, t("trends.empty"));
      else {
        c.chart.hidden = false;
        const longer = mean(points.filter((p) => p.sleep_hours >= 7).map((p) => p.energy));
        const shorter = mean(points.filter((p) => p.sleep_hours < 7).map((p) => p.energy));
        c.summary.textContent = longer !== null && shorter !== null
          ? t("trends.sleep.summary", { longer: fmtNumber(longer), shorter: fmtNumber(shorter), count: points.length })
          : t("trends.points", { count: points.length });
        draws.push([c.chart, (uPlot) => scatter(uPlot, c.chart, widthOf(c.chart), { x: points.map((p) => p.sleep_hours), y: points.map((p) => p.energy) }, { x: t("trends.axis.sleep"), y: t("trends.axis.energy") }, [1, 9])]);
        replace(c.legendHost);
      }
    }
    // Qualified meetings vs energy on working days.
    {
      const c = cards.qualified;
      const points = [...qualified.data.points].sort((a, b) => a.energy - b.energy);
      if (points.length < 2) empty(c, t("trends.qualified.empty"));
      else {
        c.chart.hidden = false;
        const high = mean(points.filter((p) => p.energy >= 6).map((p) => p.qualified_meetings));
        const low = mean(points.filter((p) => p.energy < 6).map((p) => p.qualified_meetings));
        c.summary.textContent = high !== null && low !== null
          ? t("trends.qualified.summary", { high: fmtNumber(high), low: fmtNumber(low), count: points.length })
          : t("trends.points", { count: points.length });
        const maxQ = Math.max(1, ...points.map((p) => p.qualified_meetings));
        draws.push([c.chart, (uPlot) => scatter(uPlot, c.chart, widthOf(c.chart), { x: points.map((p) => p.energy), y: points.map((p) => p.qualified_meetings) }, { x: t("trends.axis.energy"), y: t("trends.axis.qualified") }, [0, maxQ + 1])]);
        replace(c.legendHost);
      }
    }

    let uPlot;
    try {
      uPlot = await uPlotPromise;
    } catch (error) {
      console.warn("chart library not loaded", error);
      return;
    }
    // A chart is drawn when it comes near the screen: on a phone that is one or two at first,
    // the rest as the rep scrolls, so opening Trends stays quick.
    if (mine !== token) return;
    visibility.disconnect();
    pending.clear();
    for (const [el, draw] of draws) {
      pending.set(el, () => {
        if (mine === token) plots.push(draw(uPlot));
      });
      visibility.observe(el);
    }
  }

  const pending = new Map();
  const visibility = new IntersectionObserver(
    (entries) => {
      for (const entry of entries) {
        if (!entry.isIntersecting) continue;
        const draw = pending.get(entry.target);
        pending.delete(entry.target);
        visibility.unobserve(entry.target);
        if (draw) setTimeout(draw, 0); // one chart per task
      }
    },
    { rootMargin: "200px 0px" },
  );

  const observer = new ResizeObserver(() => {
    for (const plot of plots) {
      const el = plot.root.parentElement;
      if (el) plot.setSize({ width: widthOf(el), height: plot.height });
    }
  });
  observer.observe(main);
  load();
  return () => {
    token += 1;
    observer.disconnect();
    visibility.disconnect();
    destroy();
  };
}
