// A channel's statistics drawn with ECharts, from the numbers the page carries in <script id="stats-data"> (the
// same the API's GET /api/v1/channels/<id>/stats answers). Tooltips are drawn on the canvas (richText): no HTML is
// built from names, and nothing needs an inline style.
(function () {
  "use strict";

  function pick(rows, key) {
    return rows.map(function (row) { return row[key]; });
  }

  function chart(el, option) {
    var instance = window.echarts.init(el, null, { renderer: "canvas" });
    instance.setOption(option);
    window.addEventListener("resize", function () { instance.resize(); });
    return instance;
  }

  function draw() {
    var source = document.getElementById("stats-data");
    if (!source || !window.echarts) {
      return;
    }
    var data = JSON.parse(source.textContent);
    var colors = ["#07c160", "#fa5151", "#ffc300", "#10aeff"];
    var days = document.getElementById("chart-days");
    if (days) {
      chart(days, {
        color: colors,
        tooltip: { trigger: "axis", renderMode: "richText" },
        legend: { top: 0 },
        grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true },
        xAxis: { type: "category", data: pick(data.days, "day"),
                 axisLabel: { formatter: function (day) { return day.slice(5); } } },
        yAxis: { type: "value", minInterval: 1 },
        series: [
          { name: days.dataset.new, type: "bar", barMaxWidth: 24, data: pick(data.days, "new") },
          { name: days.dataset.lost, type: "bar", barMaxWidth: 24, data: pick(data.days, "lost") },
          { name: days.dataset.removed, type: "bar", barMaxWidth: 24, data: pick(data.days, "removed_by_employee") },
          { name: days.dataset.net, type: "line", data: pick(data.days, "net"), smooth: false }
        ]
      });
    }
    var people = document.getElementById("chart-employees");
    if (people && data.employees.length) {
      var names = data.employees.map(function (row) { return row.name || "—"; });
      people.style.height = Math.min(120 + 48 * names.length, 640) + "px"; // a row per employee (CSSOM: no inline style)
      chart(people, {
        color: colors,
        tooltip: { trigger: "axis", renderMode: "richText" },
        legend: { top: 0 },
        grid: { left: 8, right: 24, top: 36, bottom: 8, containLabel: true },
        xAxis: { type: "value", minInterval: 1 },
        yAxis: { type: "category", data: names, inverse: true },
        series: [
          { name: people.dataset.new, type: "bar", barMaxWidth: 18, data: pick(data.employees, "new") },
          { name: people.dataset.lost, type: "bar", barMaxWidth: 18, data: pick(data.employees, "lost") }
        ]
      });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
