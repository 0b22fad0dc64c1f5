"""The input side of SPEC v2 §7: Periods and Demand sheets, the new columns of Materials,
Suppliers, Policies and Scenarios, discount_rate, their what-if edits and the template.

Problems are asserted by their printed form, ``Sheet!Cell: message (found: …)``. Sheets
that must land on exact cells are written as lists of rows, so the column letters are
the ones written here.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
from builders import basic_sheets, country, material, offer, write_workbook
from openpyxl import load_workbook

from resilience.domain import (
    Country,
    DemandRow,
    Instance,
    Material,
    Offer,
    Period,
    Policy,
    Scenario,
    ScenarioHit,
    Settings,
    WhatIfEdit,
)
from resilience.errors import InputError
from resilience.template import write_template
from resilience.validate import load
from resilience.whatif import apply_whatif, known_whatifs, toml_demand_edits

# ---- helpers --------------------------------------------------------------------------


def _load(tmp_path: Path, sheets: dict, name: str = "book.xlsx") -> Instance:
    return load(write_workbook(tmp_path / name, sheets))


def _fail(tmp_path: Path, sheets: dict) -> InputError:
    with pytest.raises(InputError) as caught:
        _load(tmp_path, sheets)
    return caught.value


def _errors(exc: InputError) -> list[str]:
    return [str(p) for p in exc.problems if not p.warning]


def _warnings(instance_or_exc: Instance | InputError) -> list[str]:
    if isinstance(instance_or_exc, InputError):
        return [str(p) for p in instance_or_exc.problems if p.warning]
    return [str(w) for w in instance_or_exc.warnings]


PERIODS = [["period", "weight"], [2026, None], ["2027", 0.9], ["2028", None]]


def horizon_sheets(**overrides) -> dict:
    """A clean three-period workbook using every new sheet and column."""
    sheets = {
        "Materials": [
            material("gallium", 100, 1000, stockpile_cost=2, max_stockpile=50,
                     initial_stock=20, stock_price=5),
            material("germanium", 50, 500),
        ],
        "Countries": [country("AAA", p=0.1, groups="G1"), country("BBB"), country("CCC")],
        "Suppliers": [
            offer("a", "AAA", 10, 1000, available_until=2027),
            offer("b", "BBB", 20, 200, available_from="2026", capex=1000, lead_time=1,
                  spot_capacity=10, owner_country="aaa"),
            offer("c", "CCC", 30, 80, mid="germanium", spot_capacity=5),
        ],
        "Policies": [{"rule": "max_country_share", "target": "AAA", "value": "65%",
                      "stage": "Owner", "from_period": 2028}],
        "Scenarios": [
            {"scenario": "s1", "probability": 0.1, "country": "AAA", "period": None,
             "price_surge": 0.5},
            {"scenario": "S1", "probability": "10%", "country": "AAA", "material": "gallium",
             "capacity_factor": 0.5, "period": "2028", "price_surge": "50%"},
            {"scenario": "s2", "probability": 0.2, "country": "BBB", "period": 2027},
        ],
        "Periods": PERIODS,
        "Demand": [
            {"material": "gallium", "period": 2027, "demand": 120},
            {"material": "Gallium", "period": "2028", "demand": 0},
            {"material": "germanium", "period": "2026", "demand": 40},
            {"material": "gallium", "period": "2028", "demand": 80, "whatif": "boom"},
        ],
        "Settings": [["key", "value"], ["discount_rate", "5%"]],
    }
    sheets.update(overrides)
    return sheets


# ---- a clean multi-period workbook ---------------------------------------------------


def test_a_clean_multi_period_workbook_validates_to_the_expected_instance(tmp_path):
    instance = _load(tmp_path, horizon_sheets())
    assert instance.warnings == ()
    assert instance.periods == (Period("2026", None, 2), Period("2027", 0.9, 3),
                                Period("2028", None, 4))
    assert instance.multi_period
    assert instance.settings == Settings(discount_rate=0.05)
    assert instance.period_weights() == pytest.approx((1.0, 0.9, 1.05 ** -2))
    assert instance.demand_rows == (
        DemandRow("gallium", "2027", 120.0, 2), DemandRow("gallium", "2028", 0.0, 3),
        DemandRow("germanium", "2026", 40.0, 4))
    assert instance.demand("gallium", "2026") == 100.0  # not listed: Materials.demand
    assert instance.materials == (
        Material("gallium", "t", 100.0, 1000.0, 2.0, 50.0, 2, initial_stock=20.0,
                 stock_price=5.0),
        Material("germanium", "t", 50.0, 500.0, None, None, 3))
    a, b, c = instance.offers
    assert (a.available_from, a.available_until, a.capex, a.lead_time, a.spot_capacity,
            a.owner_country) == (None, "2027", None, 0, 0.0, None)
    assert (b.available_from, b.available_until, b.capex, b.lead_time, b.spot_capacity,
            b.owner_country, b.owner) == ("2026", None, 1000.0, 1, 10.0, "AAA", "AAA")
    assert type(b.lead_time) is int and b.is_project
    assert (c.spot_capacity, c.owner) == (5.0, "CCC")
    assert instance.policies == (Policy(
        rule="max_country_share", material="*", target="AAA", target_kind="country",
        stage="owner", value=0.65, name="max_country_share AAA", row=2,
        from_period="2028"),)
    # one Scenario per (name, period, what-if) group, in the spelling of its first row
    assert instance.scenario_rows == (
        Scenario("s1", 0.1, (ScenarioHit("AAA", "*", 0.0),), None, 2, None, 0.5),
        Scenario("s1", 0.1, (ScenarioHit("AAA", "gallium", 0.5),), None, 3, "2028", 0.5),
        Scenario("s2", 0.2, (ScenarioHit("BBB", "*", 0.0),), None, 4, "2027", 0.0))
    assert [(s.name, s.probability) for s in instance.scenarios("2027")] == [
        ("s1", 0.1), ("s2", 0.2), ("baseline", pytest.approx(0.7))]
    assert instance.whatif_edits == (WhatIfEdit(
        "boom", "Demand", (("material", "gallium"), ("period", "2028")), "demand", "set",
        80.0, 5),)
    assert known_whatifs(instance) == ("boom",)


def test_period_ids_written_as_numbers_read_as_whole_ids(tmp_path):
    """A number cell 2026 (or 2026.0) is the id "2026", on Periods and wherever a period
    is named."""
    sheets = horizon_sheets(Periods=[["period"], [2026.0], [2027], ["2028"]])
    sheets["Suppliers"][0]["available_until"] = 2027.0
    sheets["Demand"] = [{"material": "gallium", "period": 2026.0, "demand": 1}]
    instance = _load(tmp_path, sheets)
    assert instance.period_ids() == ("2026", "2027", "2028")
    assert instance.offers[0].available_until == "2027"
    assert instance.demand_rows[0].period == "2026"


def test_period_references_are_case_insensitive_and_take_the_periods_spelling(tmp_path):
    sheets = horizon_sheets(Periods=[["period"], ["FY2026"], [" FY2027 "], ["Fy2028"]])
    sheets["Suppliers"][0]["available_until"] = "fy2027"
    sheets["Suppliers"][1]["available_from"] = " FY2026"
    sheets["Policies"][0]["from_period"] = "FY2028"
    sheets["Scenarios"][1]["period"] = "fy2028"
    sheets["Scenarios"][2]["period"] = "FY2027"
    sheets["Demand"] = [{"material": "gallium", "period": "fy2027", "demand": 120},
                        {"material": "gallium", "period": "FY2028", "demand": 80,
                         "whatif": "boom"}]
    instance = _load(tmp_path, sheets)
    assert instance.period_ids() == ("FY2026", "FY2027", "Fy2028")
    assert (instance.offers[0].available_until, instance.offers[1].available_from) == (
        "FY2027", "FY2026")
    assert instance.policies[0].from_period == "Fy2028"
    assert [s.period for s in instance.scenario_rows] == [None, "Fy2028", "FY2027"]
    assert instance.demand_rows == (DemandRow("gallium", "FY2027", 120.0, 2),)
    assert dict(instance.whatif_edits[0].where)["period"] == "Fy2028"


def test_an_empty_periods_sheet_plans_one_period(tmp_path):
    """The blank template carries a Periods sheet with only its header."""
    instance = _load(tmp_path, basic_sheets(Periods=[["period", "weight"]],
                                            Demand=[["material", "period", "demand"]]))
    assert instance.periods == () and instance.demand_rows == ()
    assert not instance.multi_period


# ---- errors, each at its cell ---------------------------------------------------------


def test_periods_duplicate_ids_and_weights_of_zero_or_below(tmp_path):
    sheets = horizon_sheets(Periods=[["period", "weight"], [2026, 1], ["2027", 0],
                                     [" 2026", None], ["2028", -0.5]])
    exc = _fail(tmp_path, sheets)
    assert _errors(exc) == [
        "Periods!B3: weight must be > 0 (found: 0)",
        "Periods!A4: duplicate period (ids are compared ignoring case) (found: '2026')",
        "Periods!B5: weight must be > 0 (found: -0.5)",
    ]


def test_an_unknown_period_is_an_error_on_every_sheet(tmp_path):
    sheets = horizon_sheets()
    sheets["Suppliers"] = [
        ["supplier", "material", "country", "unit_cost", "capacity", "available_from",
         "available_until"],
        ["a", "gallium", "AAA", 10, 1000, "2025", None],
        ["b", "gallium", "BBB", 20, 1000, None, "2030"],
    ]
    sheets["Policies"] = [["rule", "target", "value", "from_period"],
                          ["max_country_share", "AAA", 0.5, "2031"]]
    sheets["Scenarios"] = [["scenario", "probability", "country", "period"],
                           ["s1", 0.1, "AAA", "2032"]]
    sheets["Demand"] = [["material", "period", "demand"], ["gallium", "1999", 5]]
    exc = _fail(tmp_path, sheets)
    assert _errors(exc) == [
        "Suppliers!F2: unknown period (not on Periods) (found: '2025')",
        "Suppliers!G3: unknown period (not on Periods) (found: '2030')",
        "Policies!D2: unknown period (not on Periods) (found: '2031')",
        "Scenarios!D2: unknown period (not on Periods) (found: '2032')",
        "Demand!B2: unknown period (not on Periods) (found: '1999')",
    ]


def test_a_period_named_without_a_periods_sheet_says_so(tmp_path):
    sheets = basic_sheets(
        Policies=[["rule", "target", "value", "from_period"],
                  ["max_country_share", "AAA", 0.5, 2028]],
        Scenarios=[["scenario", "probability", "country", "period"], ["s1", 0.1, "AAA", 2027]],
        Demand=[["material", "period", "demand"], ["gallium", "2026", 5]],
    )
    sheets["Suppliers"][0]["available_from"] = 2026
    exc = _fail(tmp_path, sheets)
    message = "no such period: the workbook has no Periods sheet"
    assert _errors(exc) == [
        f"Suppliers!F2: {message} (found: '2026')",
        f"Policies!D2: {message} (found: '2028')",
        f"Scenarios!D2: {message} (found: '2027')",
        f"Demand!B2: {message} (found: '2026')",
    ]


@pytest.mark.parametrize(("lead_time", "message"), [
    (1.5, "lead_time must be a whole number (found: 1.5)"),
    (-1, "lead_time must be ≥ 0 (found: -1)"),
    ("2%", "lead_time is not a fraction: write a plain number, not a percentage "
           "(found: '2%')"),
    ("two", "lead_time must be a number (found: 'two')"),
])
def test_lead_time_must_be_a_whole_number_of_periods_at_least_zero(tmp_path, lead_time,
                                                                    message):
    sheets = horizon_sheets()
    sheets["Suppliers"] = [
        ["supplier", "material", "country", "unit_cost", "capacity", "capex", "lead_time"],
        ["b", "gallium", "BBB", 20, 200, 1000, lead_time],
    ]
    assert _errors(_fail(tmp_path, sheets)) == [f"Suppliers!G2: {message}"]


def test_available_from_after_available_until_is_an_error_on_the_offers_row(tmp_path):
    sheets = horizon_sheets()
    sheets["Suppliers"] = [
        ["supplier", "material", "country", "unit_cost", "capacity", "available_from",
         "available_until"],
        ["a", "gallium", "AAA", 10, 1000, "2027", "2027"],  # one period: fine
        ["b", "gallium", "BBB", 20, 1000, "2028", "2026"],
    ]
    assert _errors(_fail(tmp_path, sheets)) == [
        "Suppliers!F3: available_from is after available_until (2026) (found: '2028')"]


def test_a_duplicate_material_and_period_on_demand_is_an_error(tmp_path):
    sheets = horizon_sheets(Demand=[
        ["material", "period", "demand", "whatif"],
        ["gallium", 2027, 120, None],
        ["GALLIUM", "2027", 130, None],
        ["gallium", 2027, 150, "boom"],  # a what-if's row for the same pair: fine
        ["gallium", "2027", 160, "Boom"],
        ["germanium", "2027", -1, None],
    ])
    assert _errors(_fail(tmp_path, sheets)) == [
        "Demand!A3: duplicate demand for gallium in period 2027 (first on row 2) "
        "(found: 'GALLIUM')",
        "Demand!A5: duplicate demand for gallium in period 2027 under what-if boom "
        "(first on row 4) (found: 'gallium')",
        "Demand!C6: demand must be ≥ 0 (found: -1)",
    ]


def test_scenario_probabilities_are_budgeted_per_period(tmp_path):
    """In 2027: s1 (every period, 0.5) + s2 (2027 only, 0.6) = 1.1 > 1. In 2026 and 2028
    only s1 is present; s3 (2028, 0.4) brings 2028 to 0.9. Over the whole sheet the
    probabilities add to 1.5, which is not what is checked."""
    sheets = horizon_sheets(Scenarios=[
        ["scenario", "probability", "country", "period"],
        ["s1", 0.5, "AAA", None],
        ["s2", 0.6, "BBB", 2027],
        ["s3", 0.4, "BBB", 2028],
    ])
    assert _errors(_fail(tmp_path, sheets)) == [
        "Scenarios!B3: scenario probabilities sum to more than 1 in period 2027 "
        "(found: 1.1)"]
    sheets["Scenarios"][2][1] = 0.5  # 2027 now 1.0 exactly: fine
    instance = _load(tmp_path, sheets, "fine.xlsx")
    assert [s.name for s in instance.scenarios("2027")] == ["s1", "s2"]


def test_a_scenario_counts_once_in_a_period_with_its_period_rows(tmp_path):
    """s1 is 0.3 in every period and 0.3 in 2027 (two rows, one scenario): 2027 holds
    0.3 + 0.6 = 0.9, not 1.2."""
    sheets = horizon_sheets(Scenarios=[
        ["scenario", "probability", "country", "period"],
        ["s1", 0.3, "AAA", None],
        ["s1", 0.3, "BBB", 2027],
        ["s2", 0.6, "CCC", 2027],
    ])
    instance = _load(tmp_path, sheets)
    assert sum(s.probability for s in instance.scenarios("2027")
               if s.name != "baseline") == pytest.approx(0.9)


def test_blank_period_rows_over_one_are_reported_once_for_their_periods(tmp_path):
    sheets = horizon_sheets(Scenarios=[
        ["scenario", "probability", "country", "period"],
        ["s1", 0.7, "AAA", None],
        ["s2", 0.4, "BBB", None],
        ["s3", 0.1, "CCC", 2027],
    ])
    assert _errors(_fail(tmp_path, sheets)) == [
        "Scenarios!B2: scenario probabilities sum to more than 1 in periods 2026, 2028 "
        "(found: 1.1)",
        "Scenarios!B4: scenario probabilities sum to more than 1 in period 2027 "
        "(found: 1.2)",
    ]


def test_rows_of_a_scenario_disagreeing_on_probability_within_a_period(tmp_path):
    sheets = horizon_sheets(Scenarios=[
        ["scenario", "probability", "country", "period"],
        ["s1", 0.1, "AAA", None],
        ["s1", 0.2, "BBB", 2027],  # applies in 2027 beside row 2's 0.1
        ["s2", 0.1, "AAA", 2026],
        ["s2", 0.3, "BBB", 2028],  # another period: may differ
        ["s2", 0.2, "CCC", "2028"],  # same period as row 5
    ])
    assert _errors(_fail(tmp_path, sheets)) == [
        "Scenarios!B3: probability differs from the rows of scenario s1 for every period "
        "(row 2: 0.1); within one period a scenario has one probability (found: 0.2)",
        "Scenarios!B6: probability differs from the first row of scenario s2 in period "
        "2028 (row 5: 0.3) (found: 0.2)",
    ]


def test_price_surge_must_be_equal_on_every_row_of_a_scenario(tmp_path):
    """Blank counts as 0: a surge on one row and a blank on another disagree."""
    sheets = horizon_sheets(Scenarios=[
        ["scenario", "probability", "country", "period", "price_surge"],
        ["s1", 0.1, "AAA", None, "50%"],
        ["s1", 0.1, "BBB", 2027, 0.5],
        ["s1", 0.1, "CCC", 2028, None],
        ["s2", 0.1, "AAA", None, None],
        ["s2", 0.1, "BBB", None, 0],
        ["s3", 0.1, "CCC", None, "-10%"],
    ])
    assert _errors(_fail(tmp_path, sheets)) == [
        "Scenarios!E4: price_surge differs from the first row of scenario s1 (row 2: 0.5); "
        "it is equal on every row of a scenario, a blank counting as 0 (found: 0)",
        "Scenarios!E7: price_surge must be ≥ 0 (found: '-10%')",
    ]


def test_every_new_problem_is_listed_at_once_in_sheet_and_row_order(tmp_path):
    sheets = horizon_sheets(
        Periods=[["period", "weight"], [2026, None], [2027, 0], ["2026", None], [2028, None]],
        Demand=[["material", "period", "demand"], ["gallium", 2027, 1], ["gallium", 2027, 2],
                ["gallium", 2040, 3]],
        Scenarios=[["scenario", "probability", "country", "period", "price_surge"],
                   ["s1", 0.7, "AAA", None, 0.1], ["s1", 0.6, "BBB", 2027, None],
                   ["s2", 0.5, "BBB", 2028, None]],
        Policies=[["rule", "target", "value", "from_period"],
                  ["max_country_share", "AAA", 0.5, "2029"]],
    )
    sheets["Suppliers"] = [
        ["supplier", "material", "country", "unit_cost", "capacity", "available_from",
         "available_until", "capex", "lead_time"],
        ["a", "gallium", "AAA", 10, 1000, 2028, 2027, None, None],
        ["b", "gallium", "BBB", 20, 1000, None, None, 100, 0.5],
        ["c", "gallium", "CCC", 20, 1000, None, None, 100, -2],
    ]
    exc = _fail(tmp_path, sheets)
    # Scenarios: row 3 (2027) disagrees with row 2 (every period) on probability and
    # surge; 2028 holds s1's 0.7 and s2's 0.5, reported on s2's row.
    assert [line.split(":")[0] for line in _errors(exc)] == [
        "Suppliers!F2", "Suppliers!I3", "Suppliers!I4",
        "Policies!D2",
        "Scenarios!B3", "Scenarios!E3", "Scenarios!B4",
        "Periods!B3", "Periods!A4",
        "Demand!A3", "Demand!B4",
    ]
    assert _errors(exc)[6] == ("Scenarios!B4: scenario probabilities sum to more than 1 in "
                               "period 2028 (found: 1.2)")
    assert str(exc).splitlines() == [str(p) for p in exc.problems]


# ---- warnings -------------------------------------------------------------------------


def test_lead_time_on_an_offer_without_capex_is_ignored_with_a_warning(tmp_path):
    sheets = horizon_sheets()
    sheets["Suppliers"] = [
        ["supplier", "material", "country", "unit_cost", "capacity", "capex", "lead_time"],
        ["a", "gallium", "AAA", 10, 1000, None, 2],
        ["c", "germanium", "CCC", 30, 80, None, None],
    ]
    instance = _load(tmp_path, sheets)
    assert instance.offers[0].lead_time == 0
    assert _warnings(instance) == [
        "Suppliers!G2: lead_time is ignored: the offer has no capex, so it is not a "
        "project (found: 2)"]


def test_a_project_that_can_never_deliver_inside_the_horizon_is_a_warning(tmp_path):
    """b: from 2027 (t = 1) + lead 1 = t 2 > available_until 2027 (t = 1). c: from 2026
    + lead 3 = t 3, after 2028 (t = 2, the last). d: 2026 + 2 = 2028, the last: fine."""
    sheets = horizon_sheets()
    sheets["Suppliers"] = [
        ["supplier", "material", "country", "unit_cost", "capacity", "available_from",
         "available_until", "capex", "lead_time"],
        ["a", "gallium", "AAA", 10, 1000, None, None, None, None],
        ["b", "gallium", "BBB", 20, 100, 2027, 2027, 100, 1],
        ["c", "gallium", "CCC", 20, 100, None, None, 100, 3],
        ["d", "gallium", "AAA", 20, 100, None, None, 100, 2],
        ["e", "germanium", "CCC", 30, 80, None, None, None, None],
    ]
    instance = _load(tmp_path, sheets)
    assert [o.lead_time for o in instance.offers] == [0, 1, 3, 2, 0]  # kept: a project
    assert _warnings(instance) == [
        "Suppliers!I3: the project can never deliver: a build started in 2027, its first "
        "possible period, is online only 1 period later, after available_until (2027) "
        "(found: 1)",
        "Suppliers!I4: the project can never deliver: a build started in 2026, its first "
        "possible period, is online only 3 periods later, after the last period (2028) "
        "(found: 3)",
    ]


def test_a_project_with_a_lead_time_in_a_one_period_workbook_is_a_warning(tmp_path):
    sheets = basic_sheets()
    sheets["Suppliers"][1].update(capex=100, lead_time=1)
    assert _warnings(_load(tmp_path, sheets)) == [
        "Suppliers!G3: the project can never deliver: the workbook plans one period (no "
        "Periods sheet) and its lead_time puts the first delivery after it (found: 1)"]


def test_initial_stock_that_cannot_be_held_is_a_warning(tmp_path):
    sheets = horizon_sheets(Materials=[
        material("gallium", 100, 1000, stockpile_cost=None, max_stockpile=None,
                 initial_stock=20),
        material("germanium", 50, 500, stockpile_cost=1, max_stockpile=10, initial_stock=15),
        material("indium", 5, 500, stockpile_cost=1, max_stockpile=10, initial_stock=10),
    ])
    instance = _load(tmp_path, sheets)
    assert _warnings(instance) == [
        "Materials!G2: initial_stock is lost: the material has no stockpile_cost, so no "
        "stock can be held (found: 20)",
        "Materials!G3: initial_stock above max_stockpile (10): the excess is lost "
        "(found: 15)",
        "Materials!A4: no offer sells indium: its demand will go unmet",
    ]
    assert instance.materials[0].initial_stock == 20.0  # kept as written (SPEC: lost)


def test_owner_country_in_a_workbook_without_policies_needs_no_warning(tmp_path):
    sheets = basic_sheets()
    sheets["Suppliers"][0]["owner_country"] = "BBB"
    instance = _load(tmp_path, sheets)
    assert instance.warnings == () and instance.offers[0].owner == "BBB"


def test_a_discount_rate_without_periods_is_a_warning(tmp_path):
    sheets = basic_sheets(Settings=[["key", "value"], ["currency", "EUR"],
                                    ["discount_rate", 0.03]])
    assert _warnings(_load(tmp_path, sheets)) == [
        "Settings!B3: discount_rate is unused: the workbook plans one period (no Periods "
        "rows)"]


def test_discount_rate_is_a_fraction_at_least_zero(tmp_path):
    sheets = horizon_sheets(Settings=[["key", "value"], ["discount_rate", "-5%"]])
    assert _errors(_fail(tmp_path, sheets)) == [
        "Settings!B2: discount_rate must be ≥ 0 (found: '-5%')"]


# ---- v1 workbooks are unchanged -------------------------------------------------------

V1 = basic_sheets(
    Policies=[{"rule": "max_country_share", "target": "AAA", "value": 0.6,
               "stage": "origin"}],
    Scenarios=[{"scenario": "s1", "probability": 0.2, "country": "AAA"},
               {"scenario": "s1", "probability": 0.2, "country": "BBB", "whatif": "w"}],
    WhatIfs=[{"whatif": "w", "sheet": "Suppliers", "where": "supplier=a",
              "column": "capacity", "op": "scale", "value": 0.5}],
)


def test_a_v1_workbook_reads_exactly_as_in_v1(tmp_path):
    instance = _load(tmp_path, V1)
    expected = Instance(
        materials=(Material("gallium", "t", 100.0, 1000.0, None, None, 2),),
        countries=(Country("AAA", "", 0.1, ("G1",), 0.0, 2),
                   Country("BBB", "", 0.0, ("G2",), 0.0, 3)),
        offers=(Offer("a", "gallium", "AAA", "AAA", 10.0, 1000.0, row=2),
                Offer("b", "gallium", "BBB", "BBB", 20.0, 1000.0, row=3)),
        policies=(Policy("max_country_share", "*", "AAA", "country", "origin", 0.6,
                         name="max_country_share AAA", row=2),),
        scenario_rows=(Scenario("s1", 0.2, (ScenarioHit("AAA", "*", 0.0),), None, 2),
                       Scenario("s1", 0.2, (ScenarioHit("BBB", "*", 0.0),), "w", 3)),
        settings=Settings(),
        whatif_edits=(WhatIfEdit("w", "Suppliers", (("supplier", "a"),), "capacity",
                                 "scale", 0.5, 2),),
        source_name="book.xlsx", source_sha256=instance.source_sha256,
    )
    assert instance == expected
    assert (instance.periods, instance.demand_rows) == ((), ())


def test_new_columns_left_blank_and_empty_new_sheets_change_nothing(tmp_path):
    base = _load(tmp_path, V1)
    sheets = {name: [dict(row) for row in rows] for name, rows in V1.items()}
    for row in sheets["Materials"]:
        row.update(initial_stock=None, stock_price=None)
    for row in sheets["Suppliers"]:
        row.update(available_from=None, available_until=None, capex=None, lead_time=None,
                   spot_capacity=None, owner_country=None)
    for row in sheets["Policies"]:
        row["from_period"] = None
    for row in sheets["Scenarios"]:
        row.update(period=None, price_surge=None)
    sheets["Periods"] = [["period", "weight"]]
    sheets["Demand"] = [["material", "period", "demand", "whatif"]]
    sheets["Settings"] = [["key", "value"], ["discount_rate", None]]
    widened = _load(tmp_path, sheets, "widened.xlsx")
    assert dataclasses.replace(widened, source_name="book.xlsx",
                               source_sha256=base.source_sha256) == base


# ---- what-ifs -------------------------------------------------------------------------


def _edit(whatif, sheet, where, column, op, value) -> dict:
    return {"whatif": whatif, "sheet": sheet, "where": where, "column": column, "op": op,
            "value": value}


def test_demand_rows_of_a_whatif_replace_or_add_only_when_it_is_applied(tmp_path):
    sheets = horizon_sheets()
    sheets["Demand"].append({"material": "germanium", "period": 2027, "demand": 70,
                             "whatif": "boom"})
    base = _load(tmp_path, sheets)
    assert base.demand("gallium", "2028") == 0.0
    boom = apply_whatif(base, "BOOM")
    assert boom.whatif == "boom"
    assert boom.demand("gallium", "2028") == 80.0  # replaced
    assert boom.demand("germanium", "2027") == 70.0  # added
    assert boom.demand("gallium", "2027") == 120.0  # untouched
    assert base.demand("gallium", "2028") == 0.0  # the base never changes


def test_a_demand_edit_on_materials_applies_in_every_period(tmp_path):
    """Materials.demand is D_{m,t} wherever Demand lists nothing: scaling it by 1.5 scales
    gallium's listed 120 (2027) and 0 (2028) too; the what-if's own row wins last."""
    sheets = horizon_sheets(WhatIfs=[
        _edit("grow", "Materials", "material=gallium", "demand", "scale", 1.5),
        _edit("boom", "Materials", "material=gallium", "demand", "add", 10),
    ])
    base = _load(tmp_path, sheets)
    grow = apply_whatif(base, "grow")
    assert [grow.demand("gallium", t) for t in grow.period_ids()] == [150, 180, 0]
    boom = apply_whatif(base, "boom")  # +10 everywhere, then its Demand row sets 2028
    assert [boom.demand("gallium", t) for t in boom.period_ids()] == [110, 130, 80]


def test_whatifs_edit_the_new_columns(tmp_path):
    sheets = horizon_sheets(WhatIfs=[
        _edit("w", "Suppliers", "supplier=a", "available_until", "set", 2028),
        _edit("w", "Suppliers", "supplier=a", "available_from", "set", "2027"),
        _edit("w", "Suppliers", "supplier=b", "capex", "scale", 2),
        _edit("w", "Suppliers", "supplier=b", "lead_time", "add", 1),
        _edit("w", "Suppliers", "owner_country=AAA", "spot_capacity", "set", 0),
        _edit("w", "Suppliers", "supplier=c", "owner_country", "set", "bbb"),
        _edit("w", "Materials", "material=gallium", "initial_stock", "set", 5),
        _edit("w", "Materials", "", "stock_price", "add", 1),
    ])
    base = _load(tmp_path, sheets)
    case = apply_whatif(base, "w")
    a, b, c = case.offers
    assert (a.available_from, a.available_until) == ("2027", "2028")
    assert (b.capex, b.lead_time, b.spot_capacity) == (2000.0, 2, 0.0)
    assert type(b.lead_time) is int
    assert c.owner_country == "BBB" and c.spot_capacity == 5.0  # c is owned by CCC
    assert [(m.initial_stock, m.stock_price) for m in case.materials] == [(5, 6), (0, 1)]
    assert base.offers[0].available_until == "2027"


def test_whatif_edits_of_the_new_columns_are_checked_like_cells(tmp_path):
    sheets = horizon_sheets(WhatIfs=[
        _edit("p", "Suppliers", "supplier=a", "available_until", "set", "2031"),
        _edit("q", "Suppliers", "supplier=a", "available_until", "scale", 2),
        _edit("r", "Suppliers", "supplier=c", "owner_country", "set", "G1"),
        _edit("s", "Suppliers", "supplier=b", "lead_time", "scale", 1.5),
        _edit("t", "Suppliers", "supplier=a", "available_from", "set", "2028"),
        _edit("u", "Suppliers", "owner_country=ZZZ", "capacity", "set", 1),
        _edit("v", "Suppliers", "supplier=a", "lead_time", "set", 2),
    ])
    exc = _fail(tmp_path, sheets)
    # problems with the values an edit leaves name no cell, so they sort first
    assert _errors(exc) == [
        "WhatIfs: what-if s leaves offer b/gallium with a lead_time that is not a whole "
        "number ≥ 0 (1.5)",
        "WhatIfs: what-if t leaves offer a/gallium with available_from (2028) after "
        "available_until (2027)",
        "WhatIfs: what-if v leaves offer a/gallium with a lead_time but no capex: "
        "lead_time applies to projects only",
        "WhatIfs!A2: what-if p: unknown period (not on Periods) (found: '2031')",
        "WhatIfs!A3: what-if q: scale needs a number column; available_until is a period "
        "id",
        "WhatIfs!A4: what-if r: unknown country (not on Countries) (found: 'G1')",
        "WhatIfs!A7: what-if u: the edit matches no row of Suppliers (found: "
        "'owner_country=ZZZ')",
    ]


def test_a_period_set_by_a_whatif_needs_a_periods_sheet(tmp_path):
    sheets = basic_sheets(WhatIfs=[
        _edit("w", "Suppliers", "supplier=a", "available_from", "set", 2026)])
    assert _errors(_fail(tmp_path, sheets)) == [
        "WhatIfs!A2: what-if w: no such period: the workbook has no Periods sheet "
        "(found: '2026')"]


def test_a_whatif_scenario_row_is_budgeted_in_its_period(tmp_path):
    sheets = horizon_sheets(Scenarios=[
        ["scenario", "probability", "country", "period", "whatif"],
        ["s1", 0.5, "AAA", None, None],
        ["s9", 0.6, "BBB", 2028, "war"],
    ])
    base = _load(tmp_path, sheets)
    with pytest.raises(InputError) as caught:
        apply_whatif(base, "war")
    assert [str(p) for p in caught.value.problems] == [
        "Scenarios: under what-if war the scenario probabilities sum to more than 1 in "
        "period 2028 (found: 1.1)"]


def test_toml_demand_tables_become_the_whatifs_demand_edits(tmp_path):
    base = _load(tmp_path, horizon_sheets())
    path = tmp_path / "ev_rush.toml"
    spec = {"demand": [{"material": "GALLIUM", "period": 2028, "demand": 300},
                       {"material": "germanium", "period": "2027", "demand": 0}]}
    edits = toml_demand_edits(base, spec, path)
    assert edits == (
        WhatIfEdit("ev_rush", "Demand", (("material", "gallium"), ("period", "2028")),
                   "demand", "set", 300.0, 0, "ev_rush.toml"),
        WhatIfEdit("ev_rush", "Demand", (("material", "germanium"), ("period", "2027")),
                   "demand", "set", 0.0, 0, "ev_rush.toml"))
    case = apply_whatif(dataclasses.replace(base, whatif_edits=base.whatif_edits + edits),
                        "ev_rush")
    assert (case.demand("gallium", "2028"), case.demand("germanium", "2027")) == (300, 0)


@pytest.mark.parametrize(("row", "message"), [
    ({"material": "gold", "period": 2027, "demand": 1},
     "ev_rush.toml!demand 1: unknown material (not on Materials) (found: 'gold')"),
    ({"material": "gallium", "period": 2031, "demand": 1},
     "ev_rush.toml!demand 1: unknown period (not on Periods) (found: '2031')"),
    ({"material": "gallium", "period": 2027, "demand": -1},
     "ev_rush.toml!demand 1: demand must be a number ≥ 0 (found: -1)"),
    ({"material": "gallium", "demand": 1},
     "ev_rush.toml!demand 1: a [[demand]] table needs material, period and demand"),
])
def test_bad_toml_demand_tables_are_input_errors(tmp_path, row, message):
    base = _load(tmp_path, horizon_sheets())
    with pytest.raises(InputError) as caught:
        toml_demand_edits(base, {"demand": [row]}, tmp_path / "ev_rush.toml")
    assert [str(p) for p in caught.value.problems] == [message]


# ---- the template ---------------------------------------------------------------------


def test_template_has_the_horizon_sheets_with_period_dropdowns(tmp_path):
    path = tmp_path / "BOOK.xlsx"
    write_template(path)
    book = load_workbook(path)
    assert [c.value for c in book["Periods"][1]] == ["period", "weight"]
    assert [c.value for c in book["Demand"][1]] == ["material", "period", "demand", "whatif"]

    def validation(sheet: str, cell: str):
        (found,) = [dv for dv in book[sheet].data_validations.dataValidation
                    if cell in dv.sqref]
        return found

    periods = "'Periods'!$A$2:$A$1000"
    assert "Scenarios" not in book.sheetnames  # generated from disruption_prob unless added
    for sheet, cell in (("Suppliers", "K2"), ("Suppliers", "L2"), ("Policies", "I2"),
                        ("Demand", "B2")):
        dv = validation(sheet, cell)
        assert (dv.type, dv.formula1, dv.errorStyle) == ("list", periods, "warning"), cell
    assert validation("Policies", "D2").formula1 == '"origin,processing,both,owner"'
    lead = validation("Suppliers", "N2")
    assert (lead.type, lead.operator, lead.formula1, lead.errorStyle) == (
        "whole", "greaterThanOrEqual", "0", "stop")
    assert validation("Suppliers", "P2").formula1 == "'Countries'!$A$2:$A$1000"
    settings = {row[0].value: row[1].value for row in book["Settings"].iter_rows(min_row=2)}
    assert settings["discount_rate"] == 0


def test_a_filled_template_with_periods_loads(tmp_path):
    path = tmp_path / "BOOK.xlsx"
    write_template(path)
    book = load_workbook(path)
    for sheet, rows in horizon_sheets().items():
        if sheet not in book.sheetnames:  # Scenarios: added by hand, as Instructions say
            from resilience.schema import sheet_by_name
            book.create_sheet(sheet).append([c.name for c in sheet_by_name(sheet).columns])
        ws = book[sheet]
        if sheet == "Settings":
            ws["B7"] = "5%"  # discount_rate's pre-filled row
            continue
        if isinstance(rows[0], list):
            header, body = rows[0], rows[1:]
        else:
            header = list(dict.fromkeys(k for row in rows for k in row))
            body = [[row.get(h) for h in header] for row in rows]
        columns = [c.value for c in ws[1]]
        for r, values in enumerate(body, start=2):
            for name, value in zip(header, values, strict=True):
                ws.cell(row=r, column=columns.index(name) + 1, value=value)
    book.save(path)
    expected = _load(tmp_path, horizon_sheets(), "plain.xlsx")
    instance = load(path)
    assert instance.warnings == ()
    for name in ("periods", "demand_rows", "materials", "offers", "policies",
                 "scenario_rows", "settings", "whatif_edits"):
        assert getattr(instance, name) == getattr(expected, name), name


# ---- the command line -----------------------------------------------------------------


def test_validate_command_lists_every_horizon_problem_and_exits_2(tmp_path):
    sheets = horizon_sheets(Periods=[["period", "weight"], [2026, None], [2027, 0]],
                            Demand=[["material", "period", "demand"], ["gallium", 2030, 5]])
    sheets["Suppliers"][1]["lead_time"] = 0.5
    path = write_workbook(tmp_path / "bad.xlsx", sheets)
    cli = Path(sys.executable).with_name("resilience")
    done = subprocess.run([str(cli), "validate", str(path)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2, done
    text = done.stdout + done.stderr
    for line in (
        "Suppliers!I3: lead_time must be a whole number (found: 0.5)",
        "Policies!E2: unknown period (not on Periods) (found: '2028')",
        "Periods!B3: weight must be > 0 (found: 0)",
        "Demand!B2: unknown period (not on Periods) (found: '2030')",
    ):
        assert line in text, text
    assert "Traceback" not in text
