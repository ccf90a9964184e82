// The sales funnel drawn with ECharts from the numbers the page carries in <script id="funnel-data"> (the same
// GET /api/v1/funnel answers): one band per step of the funnel, its width the customers who reached it. `lost` is a
// way out, not a step, and stays in the table only. Tooltips are drawn on the canvas (richText): no HTML is built
// from names, and nothing needs an inline style.
(function () {
  "use strict";

  function draw() {
    var source = document.getElementById("funnel-data");
    var el = document.getElementById("chart-funnel");
    if (!source || !el || !window.echarts) {
      return;
    }
    var data = JSON.parse(source.textContent);
    var names = JSON.parse(el.dataset.names || "{}");
    var steps = data.stages.filter(function (s) { return s.in_funnel; });
    var narrow = el.clientWidth < 520;
    var instance = window.echarts.init(el, null, { renderer: "canvas" });
    instance.setOption({
      color: ["#07c160", "#10aeff", "#ffc300", "#fa9d3b", "#91d5ff", "#6467f0"],
      tooltip: { trigger: "item", renderMode: "richText", formatter: "{b}: {c}" },
      series: [{
        name: el.dataset.reached,
        type: "funnel",
        sort: "none",
        left: narrow ? "4%" : "15%",
        right: narrow ? "4%" : "15%",
        top: 12,
        bottom: 12,
        minSize: "12%",
        gap: 3,
        label: { show: true, position: "inside", formatter: "{b}  {c}", color: "#1f2329", fontSize: 14 },
        itemStyle: { borderColor: "#fff", borderWidth: 1 },
        data: steps.map(function (s) { return { name: names[s.stage] || s.stage, value: s.reached }; })
      }]
    });
    window.addEventListener("resize", function () { instance.resize(); });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
