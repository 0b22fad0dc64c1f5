"""Cell values that are safe to write: input text never becomes a formula."""

from __future__ import annotations

import math

# Text starting with these is taken as a formula (or a DDE payload) by spreadsheet
# programs; written as an explicit string cell it stays text.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def set_value(cell, value: object) -> None:
    """Assign a value to an openpyxl cell; strings are always stored as text."""
    if isinstance(value, float) and not math.isfinite(value):
        value = None
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"
