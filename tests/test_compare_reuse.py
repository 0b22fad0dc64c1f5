"""compare's shared model (one per what-if, strategies switched by bounds) must give the
same answers as building each case alone."""

import pytest
from builders import basic_sheets, write_workbook

from resilience.analyses.compare import compare
from resilience.validate import load


@pytest.fixture()
def book(tmp_path):
    sheets = basic_sheets()
    sheets["Countries"].append({"country": "CCC", "disruption_prob": 0.05, "groups": "G2"})
    sheets["Suppliers"].append({"supplier": "c", "material": "gallium", "country": "CCC",
                                "unit_cost": 14, "capacity": 1000, "min_order": 20})
    sheets["Policies"] = [
        {"rule": "max_country_share", "target": "*", "value": 0.65, "strategy": "cap"},
        {"rule": "exclude", "target": "BBB", "strategy": "embargo"},
        {"rule": "min_group_share", "target": "G1", "value": 0.3, "strategy": "friends",
         "stage": "origin"},
        {"rule": "max_hhi", "value": 4000, "strategy": "spread"},
        {"rule": "exclude", "target": "CCC", "whatif": "shock"},
    ]
    sheets["WhatIfs"] = [{"whatif": "shock", "sheet": "Suppliers", "where": "country=AAA",
                          "column": "unit_cost", "op": "scale", "value": 1.5}]
    sheets["Settings"] = [["key", "value"], ["risk_aversion", 0.2]]
    return load(write_workbook(tmp_path / "book.xlsx", sheets))


def test_shared_model_matches_one_model_per_case(book):
    strategies = [None, "cap", "embargo", "friends", "spread"]
    whatifs = [None, "shock"]
    shared = compare(book, strategies, whatifs, reuse=True)
    alone = compare(book, strategies, whatifs, reuse=False)
    assert [(r.strategy, r.whatif) for r in shared] == [(r.strategy, r.whatif) for r in alone]
    for a, b in zip(shared, alone, strict=True):
        assert a.status == b.status, (a.strategy, a.whatif, a.reason, b.reason)
        if a.status != "failed":
            assert a.figures["objective"] == pytest.approx(b.figures["objective"], rel=1e-7)
            assert a.figures["largest_hhi"] == pytest.approx(b.figures["largest_hhi"],
                                                             rel=1e-6, abs=1e-6)
    # the switch really switches: the strategies do not all cost the same
    costs = {r.strategy: r.figures["objective"] for r in shared if r.whatif == "base"}
    assert len({round(c, 6) for c in costs.values()}) >= 3
