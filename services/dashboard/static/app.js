// planwatch dashboard: the charts (Apache ECharts) and the live alert feed. No other hosts.
"use strict";

const COLOURS = { red: "#c62828", yellow: "#d99a00", green: "#2e7d32", grey: "#9e9e9e", line: "#1f5fa8", target: "#6b6b6b" };
const LIGHT = { off_track: "red", at_risk: "yellow", met: "green", on_track: "green", not_due: "grey", no_data: "grey", monitored: "grey" };

function readJson(id) {
  const node = document.getElementById(id);
  return node ? JSON.parse(node.textContent) : null;
}

function baseOptions() {
  return {
    textStyle: { fontFamily: getComputedStyle(document.body).fontFamily },
    grid: { left: 56, right: 24, top: 48, bottom: 40 },
    tooltip: { trigger: "axis" },
    legend: { top: 8 },
    animation: false,
  };
}

function indicatorChart(node, data) {
  const periods = data.points.map((p) => p.period);
  const dots = (values) => values.map((value, i) => ({
    value, itemStyle: { color: COLOURS[LIGHT[data.points[i].status]] },
  }));
  const options = baseOptions();
  options.xAxis = { type: "category", data: periods };
  if (data.kind === "progress") {
    options.yAxis = { type: "value", name: "%", min: 0 };
    options.series = [
      { name: "完成全年目标", type: "line", data: dots(data.points.map((p) => p.completion)), symbolSize: 10, lineStyle: { color: COLOURS.line, width: 3 }, itemStyle: { color: COLOURS.line } },
      { name: "序时进度", type: "line", data: data.points.map((p) => p.time_progress), lineStyle: { type: "dashed", color: COLOURS.target }, itemStyle: { color: COLOURS.target }, symbol: "none" },
    ];
  } else {
    const first = data.points[data.points.length - 1] || {};
    const target = data.points.map((p) => p.target_value ?? p.reference_value);
    options.yAxis = { type: "value", name: data.unit, scale: true };
    options.series = [
      { name: data.name, type: "line", data: dots(data.points.map((p) => p.value)), symbolSize: 10, lineStyle: { color: COLOURS.line, width: 3 }, itemStyle: { color: COLOURS.line } },
    ];
    if (target.some((v) => v !== null && v !== undefined)) {
      options.series.push({ name: first.reference_value !== null && first.reference_value !== undefined ? "对比指标" : "全年目标", type: "line", step: "end", data: target, lineStyle: { type: "dashed", color: COLOURS.target }, itemStyle: { color: COLOURS.target }, symbol: "none" });
    }
    if (first.target_low !== null && first.target_low !== undefined) {
      options.series.push({ name: "目标区间下限", type: "line", data: data.points.map((p) => p.target_low), lineStyle: { type: "dotted", color: COLOURS.target }, symbol: "none" });
      options.series.push({ name: "目标区间上限", type: "line", data: data.points.map((p) => p.target_high), lineStyle: { type: "dotted", color: COLOURS.target }, symbol: "none" });
    }
  }
  const chart = echarts.init(node, null, { renderer: "svg" });
  chart.setOption(options);
  node.dataset.ready = "true";
  window.addEventListener("resize", () => chart.resize());
}

function portfolioChart(node, points) {
  const options = baseOptions();
  options.xAxis = { type: "category", data: points.map((p) => p.period) };
  options.yAxis = { type: "value", name: "%", min: 0, max: 100 };
  options.series = [
    { name: "开工率", type: "line", data: points.map((p) => p.start_rate), lineStyle: { width: 3, color: COLOURS.line }, itemStyle: { color: COLOURS.line } },
    { name: "投资完成率", type: "line", data: points.map((p) => p.investment_rate), lineStyle: { width: 3, color: "#e07b00" }, itemStyle: { color: "#e07b00" } },
    { name: "序时进度", type: "line", data: points.map((p) => p.time_progress), lineStyle: { type: "dashed", color: COLOURS.target }, itemStyle: { color: COLOURS.target }, symbol: "none" },
  ];
  const chart = echarts.init(node, null, { renderer: "svg" });
  chart.setOption(options);
  node.dataset.ready = "true";
  window.addEventListener("resize", () => chart.resize());
}

const CHANGE_ZH = { "alert.raised": "新增", "alert.escalated": "升级", "alert.resolved": "恢复", "alert.acknowledged": "认领", "rollup.published": "月度报告" };

function liveAlerts(badge) {
  const plan = badge.dataset.plan;
  const list = document.getElementById("live");
  const source = new EventSource(`/plans/${encodeURIComponent(plan)}/alerts/stream`);
  source.onopen = () => { badge.classList.add("on"); badge.textContent = "实时 · 已连接"; };
  source.onerror = () => { badge.classList.remove("on"); badge.textContent = "实时 · 重新连接中"; };
  const show = (event) => {
    const notice = JSON.parse(event.data);
    const empty = document.getElementById("live-empty");
    if (empty) empty.remove();
    const item = document.createElement("li");
    item.className = "live-item";
    item.dataset.subject = notice.subject;
    const light = notice.type === "alert.resolved" ? "green" : (notice.severity === "warning" ? "yellow" : "red");
    const tag = document.createElement("span");
    tag.className = `light light-${light}`;
    tag.innerHTML = '<span class="dot" aria-hidden="true"></span>';
    tag.append(`${CHANGE_ZH[notice.type] || notice.type} · ${notice.severity_zh}`);
    item.append(tag, " ", notice.summary_zh);
    list.prepend(item);
    htmx.ajax("GET", `/plans/${encodeURIComponent(plan)}/alerts?part=firing`, { target: "#firing", swap: "innerHTML" });
  };
  for (const kind of Object.keys(CHANGE_ZH)) source.addEventListener(kind, show);
}

document.addEventListener("DOMContentLoaded", () => {
  const indicator = document.getElementById("indicator-chart");
  if (indicator) indicatorChart(indicator, readJson("chart-data"));
  const portfolio = document.getElementById("portfolio-chart");
  if (portfolio) portfolioChart(portfolio, readJson("portfolio-data"));
  const badge = document.getElementById("live-status");
  if (badge) liveAlerts(badge);
});
