// The parts of ECharts the console draws with (lines, bars, a funnel; canvas), as `window.echarts`.
import * as echarts from "echarts/core";
import { BarChart, FunnelChart, LineChart } from "echarts/charts";
import { DatasetComponent, GridComponent, LegendComponent, TitleComponent, TooltipComponent } from "echarts/components";
import { CanvasRenderer } from "echarts/renderers";

echarts.use([BarChart, FunnelChart, LineChart, DatasetComponent, GridComponent, LegendComponent, TitleComponent,
  TooltipComponent, CanvasRenderer]);
window.echarts = echarts;
