/* Draws the dashboards' charts with the vendored Apache ECharts.
 *
 * Each <div class="chart" data-chart="ID"> reads its numbers from the
 * <script type="application/json" id="ID"> rendered by Django's json_script next to it:
 *   {kind: "bar"|"line", categories: [...], series: [{name, data, axis?}], links?: [...], inverse?: bool}
 * A bar with a link opens the filtered list behind it. The tables beside the charts carry
 * the same numbers, so nothing is lost without JavaScript.
 */
(function () {
  "use strict";

  var PALETTE = ["#b22222", "#1d4ed8", "#15803d", "#b45309", "#6d28d9", "#0e7490",
                 "#be185d", "#4d7c0f", "#9a3412", "#334155", "#a16207"];

  function readData(id) {
    var element = document.getElementById(id);
    if (!element) { return null; }
    try { return JSON.parse(element.textContent); } catch (error) { return null; }
  }

  function barOption(data) {
    var twoAxes = data.series.some(function (s) { return s.axis === 1; });
    var yAxis = [{ type: "value", axisLabel: { fontSize: 11 } }];
    if (twoAxes) { yAxis.push({ type: "value", splitLine: { show: false }, axisLabel: { fontSize: 11 } }); }
    return {
      color: PALETTE,
      tooltip: { trigger: "axis" },
      legend: { show: data.series.length > 1, top: 0 },
      grid: { left: 8, right: 8, top: data.series.length > 1 ? 30 : 12, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: data.categories,
               axisLabel: { interval: 0, rotate: data.categories.length > 6 ? 30 : 0, fontSize: 11 } },
      yAxis: yAxis,
      series: data.series.map(function (s) {
        return { name: s.name, type: "bar", data: s.data, yAxisIndex: s.axis || 0, barMaxWidth: 28 };
      })
    };
  }

  function lineOption(data) {
    return {
      color: PALETTE,
      tooltip: { trigger: "axis" },
      legend: { type: "scroll", top: 0 },
      grid: { left: 8, right: 16, top: 34, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: data.categories, boundaryGap: data.categories.length < 3 },
      // Ranks: 1 at the top, whole numbers only, every rank of the data on the axis.
      yAxis: { type: "value", inverse: !!data.inverse, minInterval: 1, min: 1, max: function (v) { return Math.max(v.max, 2); } },
      series: data.series.map(function (s) {
        return { name: s.name, type: "line", data: s.data, connectNulls: true,
                 showSymbol: true, symbolSize: 8, clip: false };
      })
    };
  }

  function draw(element) {
    var data = readData(element.getAttribute("data-chart"));
    if (!data || !data.categories || data.categories.length === 0) {
      element.classList.add("chart--empty");
      return;
    }
    var chart = window.echarts.init(element, null, { renderer: "canvas" });
    chart.setOption(data.kind === "line" ? lineOption(data) : barOption(data));
    if (data.links && data.links.length) {
      chart.on("click", function (params) {
        var link = data.links[params.dataIndex];
        if (link) { window.location.href = link; }
      });
    }
    window.addEventListener("resize", function () { chart.resize(); });
    element.classList.add("chart--drawn");
  }

  function start() {
    if (!window.echarts) { return; }
    Array.prototype.forEach.call(document.querySelectorAll(".chart[data-chart]"), draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
