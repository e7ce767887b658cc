// uPlot charts for the Trends screen, loaded only when that screen opens. The legend and the
// hover readout of uPlot are off: each chart has its own text summary and legend instead,
// which screen readers and keyboard users can read.
import { h } from "./dom.js";
import { lang, fmtNumber } from "./i18n.js";

let uplotPromise = null;
export const COLORS = { energy: "#0f6e84", avg: "#b4005a", bars: "#0f6e84", points: "#0f6e84", grid: "#d5dde0", axis: "#3d4b50" };

export function loadUPlot() {
  if (!uplotPromise) {
    document.head.append(h("link", { rel: "stylesheet", href: new URL("../vendor/uplot/uPlot.min.css", import.meta.url).pathname }));
    uplotPromise = import("../vendor/uplot/uPlot.esm.js").then((module) => module.default);
  }
  return uplotPromise;
}

// Tick labels in the app's language (uPlot's own follow navigator.language: "6.5" on the
// sleep axis of a rep who chose Dutch on an English phone).
function numbers(u, splits) {
  return splits.map((value) => (value == null ? "" : fmtNumber(value, 2)));
}

function axis(label, extra = {}) {
  return { values: numbers, stroke: COLORS.axis, grid: { stroke: COLORS.grid, width: 1 }, ticks: { stroke: COLORS.grid, width: 1 }, label, labelSize: 20, font: "12px system-ui, sans-serif", labelFont: "12px system-ui, sans-serif", ...extra };
}

function base(width, height) {
  return { width, height, legend: { show: false }, cursor: { show: false }, padding: [12, 12, 0, 0] };
}

export function dayFormatter() {
  const format = new Intl.DateTimeFormat(lang(), { day: "numeric", month: "short" });
  return (u, splits) => splits.map((value) => (value == null ? "" : format.format(new Date(value * 1000))));
}

export function energyDaily(uPlot, el, width, { x, energy, avg7 }, labels) {
  return new uPlot(
    {
      ...base(width, 220),
      scales: { x: { time: true }, y: { range: [1, 9] } },
      axes: [axis(null, { values: dayFormatter() }), axis(labels.y, { splits: () => [1, 3, 5, 7, 9] })],
      series: [
        {},
        { label: labels.energy, stroke: COLORS.energy, width: 0, points: { show: true, size: 6, fill: COLORS.energy, stroke: COLORS.energy }, paths: () => null },
        { label: labels.avg7, stroke: COLORS.avg, width: 2.5, spanGaps: true, points: { show: false } },
      ],
    },
    [x, energy, avg7],
    el,
  );
}

export function energyByHour(uPlot, el, width, { x, energy }, labels) {
  return new uPlot(
    {
      ...base(width, 200),
      scales: { x: { time: false, range: [-0.5, 23.5] }, y: { range: [0, 9] } },
      axes: [axis(labels.x, { values: (u, splits) => splits.map((v) => (Number.isInteger(v) ? `${v}` : "")) }), axis(labels.y, { splits: () => [0, 3, 6, 9] })],
      series: [{}, { label: labels.energy, fill: COLORS.bars, stroke: COLORS.bars, width: 0, paths: uPlot.paths.bars({ size: [0.7, 24] }), points: { show: false } }],
    },
    [x, energy],
    el,
  );
}

export function scatter(uPlot, el, width, { x, y }, labels, yRange) {
  return new uPlot(
    {
      ...base(width, 200),
      scales: { x: { time: false }, y: { range: yRange } },
      axes: [axis(labels.x), axis(labels.y)],
      series: [{}, { label: labels.y, stroke: COLORS.points, width: 0, paths: () => null, points: { show: true, size: 7, fill: COLORS.points, stroke: COLORS.points } }],
    },
    [x, y],
    el,
  );
}
