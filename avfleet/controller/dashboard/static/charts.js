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
    const width = () => Math.max(260, el.clientWidth || 600);
    const plot = new uPlot({
      width: width(), height: 240,
      // Half a day each side, so the first and last bars are whole.
      scales: { x: { time: true, range: (u, min, max) => [min - 43200, max + 43200] } },
      // ISO month-day ticks (DESIGN.md: ISO dates), not uPlot's US month/day.
      axes: [{ stroke: "#1d2330", grid: { stroke: "#e3e6ea" },
               values: (u, splits) => splits.map((ts) => isoDay(ts).slice(5)) }, { stroke: "#1d2330", grid: { stroke: "#e3e6ea" } }],
      series: [
        { label: el.dataset.labelDay, value: (u, ts) => (ts == null ? "--" : isoDay(ts)) },
        // Daily energy as bars (one day is one bar, visible even alone); left on as a line over them.
        { label: el.dataset.labelKwh, stroke: "#1a56a8", fill: "rgba(26, 86, 168, 0.35)", width: 1,
          paths: uPlot.paths.bars({ size: [0.7, 40] }), points: { show: false } },
        { label: el.dataset.labelLeft, stroke: "#a11d13", width: 2, points: { show: true, size: 6 } },
      ],
    }, [xs, data.kwh, data.left_on], el);
    window.addEventListener("resize", () => plot.setSize({ width: width(), height: 240 }));
  });
}());
