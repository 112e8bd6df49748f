// Energy charts: uPlot (vendored) over the figures the page carries in data-series (no inline script).
"use strict";

(function () {
  if (!window.uPlot) return;
  document.querySelectorAll(".chart[data-series]").forEach((el) => {
    const data = JSON.parse(el.dataset.series);
    if (!data.days || !data.days.length) return;
    const xs = data.days.map((day) => Date.parse(day + "T12:00:00Z") / 1000);
    const width = () => Math.max(260, el.clientWidth || 600);
    const plot = new uPlot({
      width: width(), height: 240, tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Europe/Stockholm"),
      scales: { x: { time: true } },
      axes: [{ stroke: "#1d2330", grid: { stroke: "#e3e6ea" } }, { stroke: "#1d2330", grid: { stroke: "#e3e6ea" } }],
      series: [
        { label: el.dataset.labelDay, value: (u, ts) => (ts == null ? "--" : new Date(ts * 1000).toISOString().slice(0, 10)) },
        { label: el.dataset.labelKwh, stroke: "#1a56a8", fill: "rgba(26, 86, 168, 0.12)", width: 2, points: { show: true } },
        { label: el.dataset.labelLeft, stroke: "#a11d13", width: 2, dash: [6, 4] },
      ],
    }, [xs, data.kwh, data.left_on], el);
    window.addEventListener("resize", () => plot.setSize({ width: width(), height: 240 }));
  });
}());
