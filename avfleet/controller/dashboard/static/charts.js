// Energy charts: uPlot (vendored) over the figures the page carries in data-series (no inline script).
"use strict";

(function () {
  if (!window.uPlot) return;
  // The points sit at noon UTC of their local day, so the UTC date is the day.
  const isoDay = (ts) => new Date(ts * 1000).toISOString().slice(0, 10);
  document.querySelectorAll(".chart[data-series]").forEach((el) => {
    const data = JSON.parse(el.dataset.series);
    if (!data.days || !data.days.length) return;
    const xs = data.days.map((day) => Date.parse(day + "T12:00:00Z") / 1000);
    // Below 1 kWh a day the chart counts Wh, so its ticks are whole numbers rather than 0,0025 steps.
    const peak = Math.max(0, ...data.kwh.filter((v) => v != null), ...data.left_on.filter((v) => v != null));
    const wh = peak < 1;
    const scale = (values) => values.map((v) => (v == null ? null : (wh ? v * 1000 : v)));
    const locale = el.dataset.lang === "en" ? "en-GB" : "sv-SE";
    const number = (v) => (v == null ? "--" : v.toLocaleString(locale, { maximumFractionDigits: wh ? 0 : 2 }));
    const steps = [];
    for (let power = wh ? 0 : -2; power <= 7; power++) [1, 2, 5].forEach((m) => steps.push(m * 10 ** power));
    const width = () => Math.max(260, el.clientWidth || 600);
    const plot = new uPlot({
      width: width(), height: 240,
      // Half a day each side, so the first and last bars are whole.
      scales: { x: { time: true, range: (u, min, max) => [min - 43200, max + 43200] } },
      // ISO month-day ticks (DESIGN.md: ISO dates), not uPlot's US month/day.
      axes: [
        { stroke: "#1d2330", grid: { stroke: "#e3e6ea" }, values: (u, splits) => splits.map((ts) => isoDay(ts).slice(5)) },
        // Steps of 1, 2 or 5 of a power of ten: every tick is a round number in the shown unit.
        { stroke: "#1d2330", grid: { stroke: "#e3e6ea" }, size: 60, incrs: steps,
          values: (u, splits) => splits.map((v) => number(v)) },
      ],
      series: [
        { label: el.dataset.labelDay, value: (u, ts) => (ts == null ? "--" : isoDay(ts)) },
        // Daily energy as bars (one day is one bar, visible even alone); left on as a line over them.
        { label: wh ? el.dataset.labelWh : el.dataset.labelKwh, stroke: "#1a56a8", fill: "rgba(26, 86, 168, 0.35)",
          width: 1, value: (u, v) => number(v),
          paths: uPlot.paths.bars({ size: [0.7, 40] }), points: { show: false } },
        { label: wh ? el.dataset.labelLeftWh : el.dataset.labelLeft, stroke: "#a11d13", width: 2,
          points: { show: true, size: 6 }, value: (u, v) => number(v) },
      ],
    }, [xs, scale(data.kwh), scale(data.left_on)], el);
    window.addEventListener("resize", () => plot.setSize({ width: width(), height: 240 }));
  });
}());
