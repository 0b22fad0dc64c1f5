"""The answer a planner wants, where they look: what each strategy costs and what it buys
against the base case (Δ spend, Δ objective, Δ CVaR, Δ expected shortage, Δ largest HHI)
on the Compare and Strategies sheets and in the figures the console and JSON take; the
objective said to be the λ-weighted blend, with the spend beside it; group shares
weighted by spend and labelled; binding rules in short form, only those with a cost; no
internal references in anything the user sees. Every figure is derived by hand in the
docstrings from small workbooks written here.

Notation: D demand, P shortage penalty, c unit cost, U capacity. No country is ever
disrupted, so each plan's only scenario is `baseline` (probability 1): its recourse cost
is P × units short, and expected recourse = CVaR = that cost, whatever λ is.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from builders import write_workbook
from openpyxl import load_workbook

from resilience.analyses.compare import BASE, CompareRow, case_figures, compare
from resilience.api import solve_case
from resilience.cases import prepare_case
from resilience.report.analyses import (
    against_base,
    binding_text,
    compare_json,
    short_policy_name,
    strategies_sheet,
    write_compare_report,
)
from resilience.report.excel import write_solve_report
from resilience.validate import load

REPO = Path(__file__).resolve().parents[1]


def approx(value: float):
    return pytest.approx(value, rel=1e-6, abs=1e-6)


def offer(supplier, material, country, unit_cost, capacity=1000) -> dict:
    return {"supplier": supplier, "material": material, "country": country,
            "unit_cost": unit_cost, "capacity": capacity}


# gallium: D = 100; a (AAA, 10), b (BBB, 12), c (CCC, 15, U = 60).
# germanium: D = 10; g (AAA, 100), h (CCC, 150, U = 2). P = 1,000 for both.
# G1 = {AAA}, G2 = {BBB, CCC}. Strategy cap60: no country above 60 % of origin.
# What-if a_out: a's capacity × 0.
BOOK = {
    "Materials": [
        {"material": "gallium", "unit": "t", "demand": 100, "shortage_penalty": 1000},
        {"material": "germanium", "unit": "kg", "demand": 10, "shortage_penalty": 1000},
    ],
    "Countries": [{"country": "AAA", "disruption_prob": 0, "groups": "G1", "tariff": 0},
                  {"country": "BBB", "disruption_prob": 0, "groups": "G2", "tariff": 0},
                  {"country": "CCC", "disruption_prob": 0, "groups": "G2", "tariff": 0}],
    "Suppliers": [offer("a", "gallium", "AAA", 10), offer("b", "gallium", "BBB", 12),
                  offer("c", "gallium", "CCC", 15, 60), offer("g", "germanium", "AAA", 100),
                  offer("h", "germanium", "CCC", 150, 2)],
    "Policies": [{"rule": "max_country_share", "material": "*", "target": "*",
                  "stage": "origin", "value": 0.6, "strategy": "cap60",
                  "name": "Cap  at  sixty:  no country above 60 % of origin, every material"}],
    "WhatIfs": [{"whatif": "a_out", "sheet": "Suppliers", "where": "supplier=a",
                 "column": "capacity", "op": "scale", "value": 0}],
}


@pytest.fixture(scope="module")
def instance(tmp_path_factory):
    return load(write_workbook(tmp_path_factory.mktemp("planner") / "book.xlsx", BOOK))


@pytest.fixture(scope="module")
def rows(instance) -> list[CompareRow]:
    return compare(instance, [None, "cap60"], [None, "a_out", "qatar_lng_outage"])


def test_each_strategy_against_base_under_the_same_whatif(rows):
    """| case                | gallium               | germanium                   | F     | R     |
    | base × base         | a 100: 1,000          | g 10: 1,000                 | 2,000 | 0     |
    | cap60 × base        | a 60 + b 40: 1,080    | g 6 + h 2: 900, 2 short     | 1,980 | 2,000 |
    | base × a_out        | b 100: 1,200          | g 10: 1,000                 | 2,200 | 0     |
    | cap60 × a_out       | b 60 + c 40: 1,320    | g 6 + h 2: 900, 2 short     | 2,220 | 2,000 |

    The cap holds germanium's g to 6 kg and h sells only 2: 2 kg short at 1,000 = 2,000
    of recourse in the baseline, so E[R] = CVaR = 2,000 and the objective is F + 2,000.
    cap60 against base: under base, spend −20 and objective +1,980; under a_out, spend +20
    and objective +2,020; both times CVaR and expected shortage cost +2,000 (2 kg of
    germanium) and the largest HHI 10,000 → 5,200 (gallium 60/40: 3,600 + 1,600;
    germanium 60 %/20 %: 4,000), −4,800. The base cases have no Δ; nor has a case whose
    base failed (qatar_lng_outage edits lng, which this workbook lacks)."""
    table = {(r.strategy, r.whatif): r for r in against_base(rows)}
    expected = {"base": (-20, 1980), "a_out": (20, 2020)}
    for whatif, (spend, objective) in expected.items():
        delta = table["cap60", whatif].figures["vs_base"]
        assert delta["strategy"] == BASE and delta["whatif"] == whatif
        assert delta["first_stage_cost"] == approx(spend)
        assert delta["objective"] == approx(objective)
        assert delta["cvar"] == approx(2000)
        assert delta["expected_shortage_cost"] == approx(2000)
        assert delta["largest_hhi"] == approx(-4800)
        assert delta["expected_shortage"] == {"gallium": approx(0), "germanium": approx(2)}
        assert table["base", whatif].figures["vs_base"] is None
    assert table["cap60", "qatar_lng_outage"].status == "failed"
    assert "vs_base" not in table["cap60", "qatar_lng_outage"].figures
    assert all("vs_base" not in r.figures for r in rows), "against_base changes no row"


def test_group_shares_are_shares_of_spend(rows, instance):
    """cap60 × base spends 600 (a) + 480 (b) on gallium and 600 (g) + 300 (h) on
    germanium, 1,980 in all: G1 (AAA) 1,200 / 1,980, G2 (BBB, CCC) 780 / 1,980 = 0.394,
    where the unweighted mean of the two materials' G2 shares of demand is (0.4 + 0.2) / 2
    = 0.3 (kept as `group_share`)."""
    figures = next(r.figures for r in rows if (r.strategy, r.whatif) == ("cap60", "base"))
    assert figures["group_spend_share"] == {"G1": approx(1200 / 1980),
                                            "G2": approx(780 / 1980)}
    assert figures["group_share"]["G2"] == approx(0.3)
    assert figures["share_period"] is None
    assert figures["risk_aversion"] == instance.settings.risk_aversion


def test_the_json_carries_the_differences(rows, instance):
    data = compare_json(rows, instance)
    cases = {(c["strategy"], c["whatif"]): c for c in data["cases"]}
    assert cases["cap60", "a_out"]["vs_base"]["objective"] == approx(2020)
    assert cases["base", "a_out"]["vs_base"] is None
    assert cases["cap60", "base"]["group_spend_share"]["G2"] == approx(780 / 1980)
    assert "summary" not in cases["cap60", "base"]


def _header(sheet) -> tuple[int, list]:
    row = next(r for r in range(1, 12) if sheet.cell(r, 2).value == "strategy"
               or sheet.cell(r, 1).value == "strategy")
    return row, [c.value for c in sheet[row]]


def _strings(book) -> list[str]:
    return [cell.value for sheet in book for row in sheet.iter_rows() for cell in row
            if isinstance(cell.value, str)]


def test_the_compare_sheet_answers_what_each_strategy_costs_and_buys(rows, instance,
                                                                     tmp_path):
    target = tmp_path / "compare.xlsx"
    write_compare_report(rows, instance, target)
    sheet = load_workbook(target)["Compare"]
    header_row, headers = _header(sheet)
    column = {h: i for i, h in enumerate(headers) if h}
    assert headers[:5] == ["what-if", "strategy", "status", "objective, λ-weighted (USD)",
                           "spend: first-stage cost (USD)"]
    for name in ("Δ spend vs base", "Δ objective vs base", "Δ CVaR vs base",
                 "Δ expected shortage cost vs base", "Δ largest HHI vs base",
                 "G1 share of spend (origin)", "G2 share of spend (origin)"):
        assert name in column, name
    assert not any(h.startswith("share ") for h in column)
    notes = " ".join(str(sheet.cell(r, 1).value or "") for r in range(1, header_row))
    assert "(1 − λ)" in notes and "λ × CVaR" in notes and "not an amount paid" in notes
    body = {(r[0], r[1]): r for r in sheet.iter_rows(min_row=header_row + 1,
                                                     max_row=header_row + 6,
                                                     values_only=True)}
    assert list(body) == [(w, s) for w in ("base", "a_out", "qatar_lng_outage")
                          for s in ("base", "cap60")]
    cap = body["a_out", "cap60"]
    assert cap[column["objective, λ-weighted (USD)"]] == approx(4220)
    assert cap[column["spend: first-stage cost (USD)"]] == approx(2220)
    assert cap[column["Δ spend vs base"]] == approx(20)
    assert cap[column["Δ objective vs base"]] == approx(2020)
    assert cap[column["Δ largest HHI vs base"]] == approx(-4800)
    assert body["a_out", "base"][column["Δ objective vs base"]] is None
    cap_base = body["base", "cap60"]
    assert cap_base[column["G2 share of spend (origin)"]] == approx(780 / 1980)
    assert cap_base[-1].startswith("Cap at sixty ≤ 60 %: germanium AAA origin 90/pt")
    assert cap_base[-1].endswith("gallium AAA origin 2/pt")
    assert sheet.cell(header_row + 1, column["Δ spend vs base"] + 1).number_format \
        .startswith("+")
    assert not any("SPEC" in s or "§" in s for s in _strings([sheet]))


def test_the_cost_charts_start_at_zero(rows, instance, tmp_path):
    """The objective and spend bars start at 0, so their lengths compare; the Δ chart
    beside them draws the differences."""
    target = tmp_path / "compare.xlsx"
    write_compare_report(rows, instance, target)
    charts = load_workbook(target)["Compare"]._charts
    titles = ["".join(r.t for p in ch.title.tx.rich.p for r in p.r) for ch in charts]
    assert titles == ["Objective and spend by case", "Δ against base: spend and objective"]
    assert charts[0].y_axis.scaling.min == 0


def test_the_compare_sheet_prints_pages_across_not_pieces_of_charts(rows, instance,
                                                                     tmp_path):
    """Too wide for one page: a short table prints one page tall and pages across, the
    case columns on each; the two charts are stacked under the table (side by side they
    are 48 cm, wider than a landscape page); the binding rules wrap in rows tall enough."""
    target = tmp_path / "compare.xlsx"
    write_compare_report(rows, instance, target)
    sheet = load_workbook(target)["Compare"]
    assert sheet.page_setup.orientation == "landscape"
    assert sheet.sheet_properties.pageSetUpPr.fitToPage
    assert (sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight) == (0, 1)
    assert sheet.print_title_cols == "$A:$B"
    first, second = sheet._charts
    assert first.anchor._from.col == second.anchor._from.col == 0
    assert second.anchor._from.row > first.anchor._from.row + first.height / 0.53
    header_row, headers = _header(sheet)
    rules = len(headers)
    assert headers[-1].startswith("binding rules")
    cell = sheet.cell(header_row + 2, rules)
    assert cell.alignment.wrap_text
    assert cell.value


def test_the_strategies_sheet_of_a_solve_report(instance, tmp_path):
    """The demo's Strategies sheet: the base case solved, then each strategy (what-if
    base), laid out as Compare without the what-if column: cap60 costs 1,980 more than
    base (objective 3,980 against 2,000) and spends 20 less."""
    result = solve_case(prepare_case(instance))
    rows = [CompareRow(BASE, BASE, result.solution.status.value, "", case_figures(result)),
            *compare(instance, ["cap60"], [None])]
    target = tmp_path / "plan.xlsx"
    write_solve_report(result, target, extra_sheets=[strategies_sheet(rows, "USD")])
    book = load_workbook(target)
    sheet = book["Strategies"]
    header_row, headers = _header(sheet)
    assert headers[:4] == ["strategy", "status", "objective, λ-weighted (USD)",
                           "spend: first-stage cost (USD)"]
    column = {h: i for i, h in enumerate(headers) if h}
    base, cap = sheet.iter_rows(min_row=header_row + 1, max_row=header_row + 2,
                                values_only=True)
    assert base[0] == "base" and base[column["Δ objective vs base"]] is None
    assert cap[0] == "cap60"
    assert cap[column["objective, λ-weighted (USD)"]] == approx(3980)
    assert cap[column["Δ objective vs base"]] == approx(1980)
    assert cap[column["Δ spend vs base"]] == approx(-20)
    assert sheet._charts[0].y_axis.scaling.min == 0
    strings = _strings(book)
    assert not [s for s in strings if "SPEC" in s or "§" in s]


def test_over_a_horizon_shares_are_the_last_periods_and_say_so(tmp_path):
    """gallium over 2026-2027, D = 100 each; a (AAA, 10), b (BBB, 12); AAA capped at 60 %
    from 2027. 2026: a 100 (1,000); 2027: a 60 + b 40 (600 + 480). The shares compare
    shows are 2027's: G1 600 / 1,080, G2 480 / 1,080 (over both periods they would be
    1,600 / 2,080), and the column says so."""
    book = write_workbook(tmp_path / "horizon.xlsx", {
        "Materials": [{"material": "gallium", "unit": "t", "demand": 100,
                       "shortage_penalty": 1000}],
        "Countries": [{"country": "AAA", "groups": "G1"}, {"country": "BBB", "groups": "G2"}],
        "Suppliers": [offer("a", "gallium", "AAA", 10), offer("b", "gallium", "BBB", 12)],
        "Policies": [{"rule": "max_country_share", "material": "*", "target": "AAA",
                      "stage": "origin", "value": 0.6, "from_period": "2027"}],
        "Periods": [{"period": "2026"}, {"period": "2027"}],
    })
    instance = load(book)
    figures = case_figures(solve_case(prepare_case(instance)))
    assert figures["share_period"] == "2027"
    assert figures["group_spend_share"] == {"G1": approx(600 / 1080), "G2": approx(480 / 1080)}
    target = tmp_path / "compare.xlsx"
    write_compare_report([CompareRow(BASE, BASE, figures["status"], "", figures)], instance,
                         target)
    sheet = load_workbook(target)["Compare"]
    _, headers = _header(sheet)
    assert "G1 share of spend (origin, 2027)" in headers
    notes = " ".join(str(sheet.cell(r, 1).value or "") for r in range(1, 5))
    assert "last period (2027)" in notes
    binding = figures["binding_policies"]
    assert [(b["period"], b["country"]) for b in binding] == [("2027", "AAA")]
    assert binding_text(figures) == (
        "max_country_share AAA ≤ 60 %: gallium AAA origin 2027 2/pt")


# ---- binding rules in short form ----------------------------------------------------------


def binding(name, material, country, stage, cost, rule="max_country_share", limit=0.65,
            period=None) -> dict:
    return {"name": name, "rule": rule, "material": material, "country": country,
            "stage": stage, "limit": limit, "cost_per_point": cost,
            **({"period": period} if period else {})}


CRMA = "EU CRMA benchmark:  at most 65 %  from one country per stage"


def test_binding_rules_short_costliest_first_without_the_ones_at_zero():
    """The policy's name once (before its colon, spaces collapsed, with its limit), each
    constraint with its cost, costliest first; rules at 0 per point left out."""
    figures = {"objective": 1_000_000.0, "binding_policies": [
        binding(CRMA, "graphite", "JPN", "origin", 99_285.2),
        binding(CRMA, "graphite", "JPN", "processing", 0.0),
        binding(CRMA, "rare_earths", "CHN", "processing", 1_234.4),
        binding(CRMA, "lithium", "ARG", "origin", 993_888.0),
        binding("max_hhi", "gallium", "", "origin", 12.345, rule="max_hhi", limit=2500),
        binding("China plus one (≤ 50 % China)", "gallium", "CHN", "origin", 1e-7,
                limit=0.5),
    ]}
    assert binding_text(figures) == (
        "EU CRMA benchmark ≤ 65 %: lithium ARG origin 993,888/pt · graphite JPN origin "
        "99,285/pt · rare_earths CHN processing 1,234/pt; max_hhi HHI ≤ 2,500: gallium "
        "origin 12.3/pt")
    assert binding_text(figures, most=2) == (
        "EU CRMA benchmark ≤ 65 %: lithium ARG origin 993,888/pt · graphite JPN origin "
        "99,285/pt (+ 2 more)")
    assert "  " not in binding_text(figures)
    assert binding_text({"objective": 1.0, "binding_policies": []}) == ""


def test_binding_rules_over_a_horizon_name_the_period():
    figures = {"objective": 5_000.0, "binding_policies": [
        binding("CN cap", "gallium", "CHN", "origin", 10.0, limit=0.5, period="2027"),
        binding("CN cap", "gallium", "CHN", "origin", 30.0, limit=0.5, period="2028"),
        binding("CN cap", "gallium", "CHN", "origin", 0.0, limit=0.5, period="2029"),
    ]}
    assert binding_text(figures) == "CN cap ≤ 50 %: gallium CHN origin 2027 10/pt, 2028 30/pt"


@pytest.mark.parametrize(("name", "rule", "limit", "short"), [
    ("EU CRMA benchmark: at most 65 % from one country per stage", "max_country_share",
     0.65, "EU CRMA benchmark ≤ 65 %"),
    ("30D: 80 % from US FTA partners", "min_group_share", 0.8,
     "30D: 80 % from US FTA partners"),
    ("China plus one (≤ 50 % China)", "max_country_share", 0.5,
     "China plus one (≤ 50 % China)"),
    ("", "max_group_share", 0.3, "max_group_share ≤ 30 %"),
    ("A very long policy name without any colon that goes on and on", "max_country_share",
     0.3, "A very long policy name without any… ≤ 30 %"),
])
def test_short_policy_names(name, rule, limit, short):
    assert short_policy_name(name, rule, limit) == short


# ---- no internal references in what the user sees ----------------------------------------


def _user_strings(path: Path) -> list[tuple[int, str]]:
    """String constants of a module that are not docstrings, with their line."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef
                      | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in docstrings]


def test_no_string_the_product_shows_cites_the_spec():
    """Titles, notes and messages never carry internal references ("SPEC §4 compare");
    docstrings and comments may."""
    found = [f"{path.relative_to(REPO)}:{line}: {text[:60]!r}"
             for path in sorted((REPO / "resilience").rglob("*.py"))
             for line, text in _user_strings(path) if "SPEC" in text or "§" in text]
    assert found == []
