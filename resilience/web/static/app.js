// The page's behaviour: polling a running job, sorting and filtering tables, charts.
"use strict";

function poll(url, isDone, onDone, onTick) {
  const tick = async () => {
    const answer = await fetch(url, {credentials: "same-origin"});
    const data = await answer.json();
    if (onTick) onTick(data);
    if (isDone(data)) onDone(data); else setTimeout(tick, 300);
  };
  tick();
}

function sortableTable(table) {
  const body = table.tBodies[0];
  table.querySelectorAll("th button").forEach((button, column) => {
    let ascending = true;
    button.addEventListener("click", () => {
      const rows = Array.from(body.rows);
      const value = (row) => {
        const cell = row.cells[column];
        const n = cell.dataset.value;
        return n !== undefined ? parseFloat(n) : cell.textContent.trim().toLowerCase();
      };
      rows.sort((a, b) => {
        const x = value(a), y = value(b);
        return (x < y ? -1 : x > y ? 1 : 0) * (ascending ? 1 : -1);
      });
      ascending = !ascending;
      rows.forEach((row) => body.appendChild(row));
      table.querySelectorAll("th").forEach((th) => th.removeAttribute("aria-sort"));
      button.parentElement.setAttribute("aria-sort", ascending ? "descending" : "ascending");
    });
  });
}

function filterTable(input, table) {
  input.addEventListener("input", () => {
    const words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    Array.from(table.tBodies[0].rows).forEach((row) => {
      const text = row.textContent.toLowerCase();
      row.hidden = !words.every((w) => text.includes(w));
    });
  });
}

const LAYOUT = {margin: {l: 140, r: 20, t: 30, b: 60}, barmode: "stack",
                legend: {orientation: "h"}, height: 380};

function sharesChart(element, summary, stage, period) {
  const materials = Object.keys(summary.shares);
  const countries = new Set();
  const shareOf = (m) => {
    const byStage = summary.shares[m][stage] || {};
    return period ? (byStage[period] || {}) : byStage;
  };
  materials.forEach((m) => Object.keys(shareOf(m)).forEach((c) => countries.add(c)));
  const traces = Array.from(countries).map((c) => ({
    type: "bar", orientation: "h", name: c, y: materials,
    x: materials.map((m) => shareOf(m)[c] || 0),
    hovertemplate: c + " %{y}: %{x:.1%}<extra></extra>",
  }));
  Plotly.react(element, traces, {...LAYOUT,
    title: {text: "Share of demand by country, " + stage + (period ? ", " + period : "")},
    xaxis: {tickformat: ".0%", range: [0, 1]}}, {displaylogo: false, responsive: true});
}

function scenarioChart(element, summary, period) {
  const s = summary.scenarios.filter((x) => !period || x.period === period);
  const names = s.map((x) => x.period ? x.scenario + " (" + x.period + ")" : x.scenario);
  Plotly.react(element, [{type: "bar", x: names, y: s.map((x) => x.recourse_cost),
    hovertemplate: "%{x}: %{y:,.0f}<extra></extra>"}],
    {...LAYOUT, margin: {l: 80, r: 20, t: 30, b: 140},
     title: {text: "Recourse cost per scenario (" + summary.units.currency + ")"
       + (period ? ", " + period : "")}},
    {displaylogo: false, responsive: true});
}

function policyChart(element, summary) {
  const binding = summary.policies.filter((p) => p.binding);
  if (!binding.length) { element.textContent = "No binding rule."; return; }
  const label = (p) => [p.rule, p.material, p.country, p.stage, p.period]
    .filter(Boolean).join(" · ");
  Plotly.react(element, [{type: "bar", orientation: "h", y: binding.map(label),
    x: binding.map((p) => p.cost_per_point), text: binding.map((p) => p.name),
    hovertemplate: "%{text}<br>%{x:,.0f}<extra></extra>"}],
    {...LAYOUT, margin: {l: 320, r: 20, t: 30, b: 60}, height: Math.max(300, 22 * binding.length + 100),
     title: {text: "Cost of each binding rule (" + summary.units.currency + " per point)"}},
    {displaylogo: false, responsive: true});
}

function periodsChart(element, summary, material, stage) {
  const periods = summary.periods;
  const byStage = (summary.shares[material] || {})[stage] || {};
  const countries = new Set();
  periods.forEach((t) => Object.keys(byStage[t] || {}).forEach((c) => countries.add(c)));
  const traces = Array.from(countries).map((c) => ({type: "scatter", mode: "lines+markers",
    name: c, x: periods, y: periods.map((t) => (byStage[t] || {})[c] || 0)}));
  Plotly.react(element, traces, {...LAYOUT, margin: {l: 60, r: 20, t: 30, b: 60},
    title: {text: "Shares over the periods: " + material + ", " + stage},
    yaxis: {tickformat: ".0%", range: [0, 1]}, xaxis: {type: "category"}},
    {displaylogo: false, responsive: true});
}

function projectsChart(element, summary) {
  const built = summary.investments || [];
  if (!built.length) { element.textContent = "No project built."; return; }
  Plotly.react(element, [{type: "bar", x: built.map((p) => p.period),
    y: built.map((p) => p.capex), text: built.map((p) => p.supplier + " (" + p.material + ")"),
    hovertemplate: "%{text}<br>starts %{x}: %{y:,.0f}<extra></extra>"}],
    {...LAYOUT, margin: {l: 80, r: 20, t: 30, b: 60}, xaxis: {type: "category"},
     title: {text: "Projects built: capex by start period"}}, {displaylogo: false, responsive: true});
}

async function runCharts(url) {
  const summary = await (await fetch(url, {credentials: "same-origin"})).json();
  const stage = document.getElementById("stage");
  const period = document.getElementById("period");
  const drawShares = () => {
    sharesChart(document.getElementById("shares-chart"), summary, stage.value,
                period ? period.value : null);
    scenarioChart(document.getElementById("scenario-chart"), summary,
                  period ? period.value : null);
  };
  stage.addEventListener("change", drawShares);
  if (period) period.addEventListener("change", drawShares);
  drawShares();
  policyChart(document.getElementById("policy-chart"), summary);
  const material = document.getElementById("material");
  if (material) {
    const drawPeriods = () => periodsChart(document.getElementById("periods-chart"), summary,
      material.value, stage.value);
    material.addEventListener("change", drawPeriods);
    stage.addEventListener("change", drawPeriods);
    drawPeriods();
    projectsChart(document.getElementById("projects-chart"), summary);
  }
  document.body.dataset.chartsReady = "yes";
}
