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

  // Series colours: each at least 3:1 on the white card (4.9 to 10.4:1), as WCAG asks of
  // graphics that carry meaning; the first ones are the portal's theme and state colours.
  var PALETTE = ["#b22222", "#1d4ed8", "#15803d", "#b45309", "#6d28d9", "#0e7490",
                 "#be185d", "#4d7c0f", "#9a3412", "#334155", "#a16207"];

  // Text and axis colours come from the palette in static/css/portal.css (:root), so labels
  // meet the same 4.5:1 as the page's text; the fallbacks are the same values.
  function cssColour(name, fallback) {
    var value = window.getComputedStyle(document.documentElement).getPropertyValue(name);
    return (value && value.trim()) || fallback;
  }

  function theme() {
    var text = cssColour("--ink-soft", "#4e5969");
    var axis = cssColour("--field-border", "#7b8494");
    var grid = cssColour("--line", "#e5e6eb");
    // Labels follow the page's font size (bigger in 大字模式).
    var size = parseFloat(window.getComputedStyle(document.documentElement).fontSize) || 15;
    var label = Math.max(11, Math.round(size * 0.8));
    return {
      text: text, label: label,
      axisLabel: { color: text, fontSize: label },
      axisLine: { lineStyle: { color: axis } },
      splitLine: { lineStyle: { color: grid } },
      legend: { color: cssColour("--ink", "#1f2329"), fontSize: label }
    };
  }

  function readData(id) {
    var element = document.getElementById(id);
    if (!element) { return null; }
    try { return JSON.parse(element.textContent); } catch (error) { return null; }
  }

  function barOption(data) {
    var t = theme();
    var twoAxes = data.series.some(function (s) { return s.axis === 1; });
    var yAxis = [{ type: "value", axisLabel: t.axisLabel, axisLine: t.axisLine, splitLine: t.splitLine }];
    if (twoAxes) { yAxis.push({ type: "value", splitLine: { show: false }, axisLabel: t.axisLabel, axisLine: t.axisLine }); }
    return {
      color: PALETTE,
      textStyle: { color: t.text },
      tooltip: { trigger: "axis" },
      legend: { show: data.series.length > 1, top: 0, textStyle: t.legend },
      grid: { left: 8, right: 8, top: data.series.length > 1 ? 30 : 12, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: data.categories, axisLine: t.axisLine,
               axisLabel: { interval: 0, rotate: data.categories.length > 6 ? 30 : 0, color: t.text, fontSize: t.label } },
      yAxis: yAxis,
      series: data.series.map(function (s) {
        return { name: s.name, type: "bar", data: s.data, yAxisIndex: s.axis || 0, barMaxWidth: 28 };
      })
    };
  }

  function lineOption(data) {
    var t = theme();
    return {
      color: PALETTE,
      textStyle: { color: t.text },
      tooltip: { trigger: "axis" },
      legend: { type: "scroll", top: 0, textStyle: t.legend,
                pageTextStyle: { color: t.text }, pageIconColor: t.text },
      grid: { left: 8, right: 16, top: 34, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: data.categories, boundaryGap: data.categories.length < 3,
               axisLabel: t.axisLabel, axisLine: t.axisLine },
      // Ranks: 1 at the top, whole numbers only, every rank of the data on the axis.
      yAxis: { type: "value", inverse: !!data.inverse, minInterval: 1, min: 1, max: function (v) { return Math.max(v.max, 2); },
               axisLabel: t.axisLabel, axisLine: t.axisLine, splitLine: t.splitLine },
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
