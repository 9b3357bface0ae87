/* Draws the dashboards' charts with the vendored Apache ECharts.
 *
 * Each <div class="chart" data-chart="ID"> reads its numbers from the
 * <script type="application/json" id="ID"> rendered by Django's json_script next to it:
 *   {kind: "bar"|"line", categories: [...], series: [{name, data, axis?}], links?: [...], inverse?: bool,
 *    x_name: the category axis' title, axes: [{name (title with unit), unit, max}]}
 * Every chart shows its legend and its axis titles. A chart of one data point is not drawn
 * (the template shows a sentence instead), so this script never sees one.
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

  // The value axes: each with its title (the figure's name and unit) and range.
  function valueAxes(data, t, extra) {
    var axes = data.axes && data.axes.length ? data.axes : [{ name: "", unit: "" }];
    return axes.map(function (a, i) {
      var axis = { type: "value", name: a.name, nameLocation: "end", nameGap: 10,
                   nameTextStyle: { color: t.text, fontSize: t.label, align: i === 0 ? "left" : "right" },
                   axisLabel: t.axisLabel, axisLine: Object.assign({ show: true }, t.axisLine),
                   splitLine: i === 0 ? t.splitLine : { show: false } };
      if (a.max !== null && a.max !== undefined) { axis.min = 0; axis.max = a.max; }
      return Object.assign(axis, extra || {});
    });
  }

  // A category axis with its title under the labels: the gap clears the longest label,
  // which a rotated axis draws slanting down (sin 30° of its length).
  function categoryAxis(data, t, rotate, extra) {
    var longest = data.categories.reduce(function (n, c) { return Math.max(n, String(c).length); }, 0);
    var labelHeight = rotate ? Math.ceil(longest * t.label * 0.5 + t.label) : t.label;
    return Object.assign({ type: "category", data: data.categories, axisLine: t.axisLine,
      name: data.x_name || "", nameLocation: "middle", nameGap: labelHeight + 18,
      nameTextStyle: { color: t.text, fontSize: t.label },
      axisLabel: { interval: 0, rotate: rotate, color: t.text, fontSize: t.label } }, extra || {});
  }

  // The tooltip shows each value with its axis' unit (分, %).
  function tooltip(data) {
    var axes = data.axes || [];
    return {
      trigger: "axis",
      formatter: function (params) {
        var lines = [window.echarts.format.encodeHTML(params.length ? params[0].axisValueLabel : "")];
        params.forEach(function (p) {
          var series = data.series[p.seriesIndex] || {};
          var unit = (axes[series.axis || 0] || {}).unit || "";
          var value = p.value === null || p.value === undefined ? "—" : p.value + (unit === "%" ? "%" : unit ? " " + unit : "");
          // Names come from the database: escaped, as the tooltip is HTML.
          lines.push(p.marker + window.echarts.format.encodeHTML(p.seriesName) + "：" + value);
        });
        return lines.join("<br>");
      }
    };
  }

  // Bars stand up when each category has room for its label; on a narrow chart (a phone)
  // with many categories they lie down, one row per category, so every label reads whole.
  function isHorizontal(data, width) {
    return data.categories.length > 4 && width / data.categories.length < 64;
  }

  function barSeries(data) {
    return data.series.map(function (s) {
      return { name: s.name, type: "bar", data: s.data, yAxisIndex: s.axis || 0, barMaxWidth: 28 };
    });
  }

  function barOption(data, width) {
    var t = theme();
    var common = { color: PALETTE, textStyle: { color: t.text }, tooltip: tooltip(data),
                   legend: { show: true, top: 0, textStyle: t.legend } };
    if (isHorizontal(data, width)) {
      var value = valueAxes(data, t, { nameLocation: "middle", nameGap: t.label + 14 })[0];
      var series = barSeries(data).map(function (s) { s.yAxisIndex = undefined; return s; });
      return Object.assign(common, {
        grid: { left: 8, right: 16, top: 56, bottom: t.label + 24, containLabel: true },
        yAxis: { type: "category", data: data.categories, inverse: true, axisLine: t.axisLine,
                 name: data.x_name || "", nameLocation: "start", nameGap: 10,
                 nameTextStyle: { color: t.text, fontSize: t.label, align: "left" },
                 axisLabel: { interval: 0, color: t.text, fontSize: t.label } },
        xAxis: value,
        series: series
      });
    }
    var rotate = data.categories.length > 6 ? 30 : 0;
    return Object.assign(common, {
      grid: { left: 8, right: 8, top: 56, bottom: 32, containLabel: true },
      xAxis: categoryAxis(data, t, rotate),
      yAxis: valueAxes(data, t),
      series: barSeries(data)
    });
  }

  // The height a lying bar chart needs: a row per category, taller with more series.
  function horizontalHeight(data) {
    return 120 + data.categories.length * (12 + 12 * data.series.length);
  }

  function lineOption(data) {
    var t = theme();
    return {
      color: PALETTE,
      textStyle: { color: t.text },
      tooltip: tooltip(data),
      legend: { type: "scroll", top: 0, textStyle: t.legend,
                pageTextStyle: { color: t.text }, pageIconColor: t.text },
      grid: { left: 8, right: 16, top: 60, bottom: 32, containLabel: true },
      xAxis: categoryAxis(data, t, 0, { boundaryGap: data.categories.length < 3 }),
      // Ranks: 1 at the top, whole numbers only, every rank of the data on the axis.
      yAxis: valueAxes(data, t, { inverse: !!data.inverse, nameLocation: data.inverse ? "start" : "end",
                                  minInterval: 1, min: 1,
                                  max: function (v) { return Math.max(v.max, 2); } }),
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
    var width = element.clientWidth;
    if (data.kind !== "line" && isHorizontal(data, width)) {
      element.style.height = horizontalHeight(data) + "px";
    }
    var chart = window.echarts.init(element, null, { renderer: "canvas" });
    chart.setOption(data.kind === "line" ? lineOption(data) : barOption(data, width));
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
