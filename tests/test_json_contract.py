"""The JSON of every command as a contract (docs/json.md): `schema_version` first,
numerical noise rounded in the one step every command's output goes through, and every
field documented (and every documented field real) on a one-period and a multi-period
workbook, from the command line."""

from __future__ import annotations

import math

import pytest

from resilience.report.kpis import SCHEMA_VERSION, clean_json, clean_number, json_document

# ---- the rounding step --------------------------------------------------------------


@pytest.mark.parametrize(("value", "clean"), [
    (2.91e-11, 0.0),  # a shortage the solver left: zero
    (-2.91e-11, 0.0),  # never -0.0
    (-0.0, 0.0),
    (1e-9, 0.0),
    (2499.9999999999995, 2500.0),  # a quantity within 1e-9 of a whole number
    (2500.0000000001, 2500.0),
    (-3.9999999999, -4.0),
    (240179999.9999998, 240180000.0),  # a CVaR summed in floating point
    (0.30000000000000004, 0.3),  # 0.1 + 0.2: the binary tail of a short decimal
    (0.6499999999999999, 0.65),
    (-0.30000000000000004, -0.3),
])
def test_noise_is_written_as_the_clean_value(value, clean):
    assert clean_number(value) == clean
    assert math.copysign(1.0, clean_number(value)) == math.copysign(1.0, clean)


@pytest.mark.parametrize("value", [
    0.35, 1234.56, 1e-6, 2e-9, 1 / 3, 16.720555555555556, 0.209006944444444445,
    5.5, -12.25, 1e300, 13761286843.0,
])
def test_real_values_are_kept_exactly(value):
    assert clean_number(value) == value


def test_non_finite_figures_are_null():
    assert clean_number(math.inf) is None
    assert clean_number(-math.inf) is None
    assert clean_number(math.nan) is None


def test_clean_json_walks_everything_and_changes_nothing_else():
    import numpy as np

    data = {"a": [1, True, None, "x", 2.91e-11, (0.1 + 0.2,)],
            "b": {"c": np.float64(2499.9999999999995), "d": np.int64(3), "e": False}}
    clean = clean_json(data)
    assert clean == {"a": [1, True, None, "x", 0.0, [0.3]],
                     "b": {"c": 2500.0, "d": 3, "e": False}}
    assert type(clean["b"]["c"]) is float and type(clean["b"]["d"]) is int
    assert clean["a"][1] is True
    assert clean_json(clean) == clean, "idempotent"
    assert data["a"][4] == 2.91e-11, "the input is left as it was"


def test_the_document_has_the_schema_version_first():
    doc = json_document({"status": "optimal", "objective": 0.1 + 0.2,
                         "schema_version": "old"})
    assert list(doc) == ["schema_version", "status", "objective"]
    assert doc["schema_version"] == SCHEMA_VERSION == "2"
    assert doc["objective"] == 0.3
