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

function showJob(d) {
  // A running job's stage and seconds, and its last progress report: a solve's best
  // objective, bound, gap and solver time; a frontier's points done.
  document.getElementById("run-status").textContent = d.stage + "… (" + d.seconds + " s)";
  const p = d.progress;
  if (!p) return;
  if (p.total !== undefined) {
    const shown = document.getElementById("frontier-progress");
    if (shown) shown.textContent = p.done + " of " + p.total + " points" + (p.now ? "; now: " + p.now : "");
    return;
  }
  for (const key of ["objective", "bound", "gap", "seconds"]) {
    const cell = document.getElementById("progress-" + key);
    if (cell) cell.textContent = p[key];
  }
  const caption = document.querySelector("#solver-progress caption");
  if (caption) caption.textContent = "The solver's search so far";
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

const CONFIG = {displaylogo: false, responsive: true};

function okPoints(sweep) { return sweep.filter((p) => p.ok); }

function kneeTrace(points, x, ys, text) {
  // the knee of a sweep as a trace of its own (a star on each curve drawn)
  const knees = points.filter((p) => p.knee);
  return {type: "scatter", mode: "markers", name: "knee",
    x: ys.flatMap(() => knees.map(x)), y: ys.flatMap((y) => knees.map(y)),
    text: ys.flatMap(() => knees.map(text)), marker: {symbol: "star", size: 16, color: "#c0392b"},
    hovertemplate: "knee: %{text}<br>%{y:,.0f}<extra></extra>"};
}

async function frontierCharts(url, currency) {
  const data = await (await fetch(url, {credentials: "same-origin"})).json();
  const hhi = okPoints(data.hhi_sweep);
  const limit = (p) => "HHI ≤ " + Math.round(p.parameter).toLocaleString("en");
  Plotly.react(document.getElementById("frontier-hhi-chart"), [
    {type: "scatter", mode: "lines+markers", name: "objective", x: hhi.map((p) => p.largest_hhi),
     y: hhi.map((p) => p.objective), text: hhi.map(limit),
     hovertemplate: "%{text}<br>largest HHI %{x:,.0f}: %{y:,.0f}<extra></extra>"},
    kneeTrace(hhi, (p) => p.largest_hhi, [(p) => p.objective], limit),
  ], {...LAYOUT, margin: {l: 90, r: 20, t: 40, b: 60}, legend: {orientation: "h", y: -0.3},
      title: {text: "Objective against largest HHI (" + currency + ")"},
      xaxis: {title: {text: "largest HHI (points)"}, autorange: "reversed"},
      yaxis: {title: {text: "objective"}}}, CONFIG);
  const risk = okPoints(data.risk_aversion_sweep);
  const lambda = (p) => "λ = " + p.parameter.toFixed(2);
  Plotly.react(document.getElementById("frontier-risk-chart"), [
    {type: "scatter", mode: "lines+markers", name: "objective", x: risk.map((p) => p.parameter),
     y: risk.map((p) => p.objective), hovertemplate: "λ %{x:.2f}: %{y:,.0f}<extra></extra>"},
    {type: "scatter", mode: "lines+markers", name: "CVaR", x: risk.map((p) => p.parameter),
     y: risk.map((p) => p.cvar), hovertemplate: "λ %{x:.2f}: CVaR %{y:,.0f}<extra></extra>"},
    kneeTrace(risk, (p) => p.parameter, [(p) => p.objective, (p) => p.cvar], lambda),
  ], {...LAYOUT, margin: {l: 90, r: 20, t: 40, b: 60}, legend: {orientation: "h", y: -0.3},
      title: {text: "Objective and CVaR against risk aversion λ (" + currency + ")"},
      xaxis: {title: {text: "risk aversion λ"}, range: [-0.02, 1.02]}}, CONFIG);
  document.body.dataset.chartsReady = "yes";
}

const COMPARED = [["first_stage_cost", "spend"], ["objective", "objective"], ["cvar", "CVaR"],
                  ["expected_shortage_cost", "expected shortage cost"]];

function compareCharts(data) {
  const runs = data.runs;
  const names = runs.map((r) => r.name);
  const grouped = {...LAYOUT, barmode: "group", margin: {l: 90, r: 20, t: 40, b: 90}};
  Plotly.react(document.getElementById("compare-cost-chart"),
    [["objective", "objective"], ["first_stage_cost", "spend (first stage)"]].map(([key, label]) => ({
      type: "bar", name: label, x: names, y: runs.map((r) => r.figures[key]),
      hovertemplate: label + " %{x}: %{y:,.0f}<extra></extra>"})),
    {...grouped, title: {text: "Objective and spend per run (" + data.currency + ")"},
     yaxis: {rangemode: "tozero"}}, CONFIG);
  const others = runs.filter((r) => r.delta);
  Plotly.react(document.getElementById("compare-delta-chart"), others.map((r) => ({
      type: "bar", name: r.name, x: COMPARED.map(([, label]) => label),
      y: COMPARED.map(([key]) => r.delta[key]),
      hovertemplate: r.name + " %{x}: %{y:+,.0f}<extra></extra>"})),
    {...grouped, title: {text: "Δ against " + runs.find((r) => r.number === data.base).name
       + " (" + data.currency + ")"}, yaxis: {zeroline: true}}, CONFIG);
  // the share of landed spend, as compare's sheet and console weigh it (not the
  // unweighted mean over materials, which counts a small material as much as LNG)
  const groups = Array.from(new Set(runs.flatMap((r) => Object.keys(r.group_spend_share))))
    .sort();
  const period = runs.map((r) => r.share_period).find((p) => p);
  Plotly.react(document.getElementById("compare-groups-chart"), runs.map((r) => ({
      type: "bar", name: r.name, x: groups, y: groups.map((g) => r.group_spend_share[g] || 0),
      hovertemplate: r.name + " %{x}: %{y:.1%}<extra></extra>"})),
    {...grouped, title: {text: "Share of spend by country group (origin"
       + (period ? ", " + period : "") + ")"},
     yaxis: {tickformat: ".0%", rangemode: "tozero"}}, CONFIG);
  Plotly.react(document.getElementById("compare-hhi-chart"), [{type: "bar", x: names,
      y: runs.map((r) => r.figures.largest_hhi),
      hovertemplate: "%{x}: %{y:,.0f}<extra></extra>"}],
    {...grouped, title: {text: "Largest HHI per run (points)"},
     yaxis: {rangemode: "tozero", range: [0, 10000]}}, CONFIG);
  document.body.dataset.chartsReady = "yes";
}
