"""The shipped library: the embedded data set and the `models/` strategies and what-ifs.

`pip install .` maps the repository's `data/` and `models/` folders into the package
(`resilience._data`, `resilience._models`), so the same lookup works from a checkout, an
editable install and a wheel.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib.util
import re
import tomllib
from pathlib import Path

from resilience.domain import OWNER, POLICY_RULES, Instance, Policy, WhatIfEdit
from resilience.errors import InputError, Problem

_REPO = Path(__file__).resolve().parents[1]


def _folder(package: str, fallback: str) -> Path:
    """The folder of a data package (a namespace package: no __init__.py), installed or
    mapped by an editable install; else the repository's own folder."""
    try:
        spec = importlib.util.find_spec(package)
    except ModuleNotFoundError:
        spec = None
    for location in (spec.submodule_search_locations or []) if spec else []:
        if Path(location).is_dir():
            return Path(location)
    return _REPO / fallback


def models_folder() -> Path:
    return _folder("resilience._models", "models")


def data_folder() -> Path:
    return _folder("resilience._data", "data")


def demo_workbook() -> Path:
    return data_folder() / "critical-inputs.xlsx"


def example_workbook() -> Path:
    return data_folder() / "example.xlsx"


def _names(kind: str) -> dict[str, Path]:
    folder = models_folder() / kind
    if not folder.is_dir():
        return {}
    return {p.stem.casefold(): p for p in sorted(folder.glob("*.toml"))}


def library_strategies() -> tuple[str, ...]:
    return tuple(p.stem for p in _names("strategies").values())


def library_whatifs() -> tuple[str, ...]:
    return tuple(p.stem for p in _names("whatifs").values())


def library_description(kind: str, name: str) -> str:
    """The `description` line of a shipped strategy or what-if ("" when it has none)."""
    path = _names(kind).get(name.strip().casefold())
    if path is None:
        return ""
    try:
        return " ".join(str(_read(path).get("description", "")).split())
    except InputError:
        return "(not valid TOML)"


def _read(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError([Problem(str(path.name), "", f"not valid TOML: {exc}")]) from None


def load_library_strategy(instance: Instance, name: str) -> Instance:
    path = _names("strategies").get(name.strip().casefold())
    if path is None:
        raise InputError([Problem("", "", f"unknown strategy {name!r}")])
    spec = _read(path)
    policies = tuple(p for i, row in enumerate(spec.get("policy", []), start=1)
                     for p in _policies(instance, row, path, i, path.stem, None))
    return dataclasses.replace(instance, policies=instance.policies + policies,
                               strategy=path.stem)


def load_library_whatif(instance: Instance, name: str) -> Instance:
    """The instance with the library what-if's edits and rows added (not yet applied)."""
    path = _names("whatifs").get(name.strip().casefold())
    if path is None:
        from resilience.whatif import known_whatifs

        known = sorted(set(known_whatifs(instance)) | set(library_whatifs()))
        near = difflib.get_close_matches(name.strip(), known, n=1, cutoff=0.6)
        hint = f"did you mean {near[0]}? " if near else ""
        raise InputError([Problem("command line", "", f"--whatif: unknown what-if {name!r} "
                                  "(in neither the workbook nor the library); "
                                  f"{hint}known: {', '.join(known) or 'none defined'}")])
    spec = _read(path)
    label = path.stem
    edits = []
    for i, row in enumerate(spec.get("edit", []), start=1):
        try:
            where = tuple(
                (part.split("=", 1)[0].strip(), part.split("=", 1)[1].strip())
                for part in str(row.get("where", "")).split(";") if part.strip()
            )
            edits.append(WhatIfEdit(
                whatif=label, sheet=str(row["sheet"]).strip().title(), where=where,
                column=str(row["column"]), op=str(row.get("op", "set")),
                value=_number_or_text(row["value"]), row=0, origin=path.name,
            ))
        except (KeyError, IndexError) as exc:
            raise InputError([Problem(path.name, f"edit {i}", f"missing or malformed {exc}")]
                             ) from None
    for edit in edits:
        if edit.sheet not in ("Materials", "Countries", "Suppliers") or edit.op not in (
                "set", "scale", "add"):
            raise InputError([Problem(path.name, "", f"edit on {edit.sheet!r} with op "
                                      f"{edit.op!r}: sheet must be Materials, Countries or "
                                      "Suppliers and op set, scale or add")])
    from resilience.whatif import toml_demand_edits

    edits.extend(toml_demand_edits(instance, spec, path))  # [[demand]] rows (SPEC §7)
    policies = tuple(p for i, row in enumerate(spec.get("policy", []), start=1)
                     for p in _policies(instance, row, path, i, None, label))
    return dataclasses.replace(instance, whatif_edits=instance.whatif_edits + tuple(edits),
                               policies=instance.policies + policies)


def _number_or_text(value: object) -> float | str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return float(value)
    match = re.fullmatch(r"\s*([+-]?\d+(?:\.\d*)?)\s*%\s*", str(value))
    return float(match.group(1)) / 100 if match else str(value)


def _policies(instance: Instance, row: dict, path: Path, index: int, strategy: str | None,
              whatif: str | None) -> list[Policy]:
    """A TOML policy row. `materials = [..]` lists materials and skips those the workbook
    lacks (a library strategy serves many workbooks); `material` must exist."""
    if "materials" not in row:
        return [_policy(instance, row, path, index, strategy, whatif)]
    known = {m.id.casefold() for m in instance.materials}
    return [_policy(instance, {**row, "material": name}, path, index, strategy, whatif)
            for name in row["materials"] if str(name).strip().casefold() in known]


def _policy(instance: Instance, row: dict, path: Path, index: int, strategy: str | None,
            whatif: str | None) -> Policy:
    where = f"policy {index}"

    def fail(message: str) -> InputError:
        return InputError([Problem(path.name, where, message)])

    rule = str(row.get("rule", "")).strip()
    if rule not in POLICY_RULES:
        raise fail(f"rule must be one of {', '.join(POLICY_RULES)}")
    stage = str(row.get("stage", "both")).strip().lower()
    if stage not in ("origin", "processing", "both", OWNER):
        raise fail("stage must be origin, processing, both or owner")
    from_period = None
    if row.get("from_period") is not None:  # SPEC §7: the rule applies from then on
        wanted = row["from_period"]
        text = str(int(wanted)) if isinstance(wanted, float) and wanted.is_integer() \
            else str(wanted).strip()
        found = [p.id for p in instance.periods if p.id.casefold() == text.casefold()]
        if not found:
            raise fail(f"from_period {text!r} is not a period of this workbook"
                       + ("" if instance.periods else " (it has no Periods sheet)"))
        from_period = found[0]
    material = str(row.get("material", "*")).strip()
    if material != "*":
        found = [m.id for m in instance.materials if m.id.casefold() == material.casefold()]
        if not found:
            raise fail(f"material {material!r} is not in this workbook")
        material = found[0]
    target = str(row.get("target", "*")).strip()
    kind = "*"
    if target != "*":
        countries = [c.id for c in instance.countries if c.id.casefold() == target.casefold()]
        groups = sorted({g for c in instance.countries for g in c.groups
                         if g.casefold() == target.casefold()})
        if countries:
            target, kind = countries[0], "country"
        elif groups:
            target, kind = groups[0], "group"
        else:
            # A group no country of this workbook carries: the rule has no member.
            kind = "group"
    value = row.get("value")
    if rule != "exclude":
        if value is None:
            raise fail(f"{rule} needs a value")
        value = _number_or_text(value)
        if not isinstance(value, float):
            raise fail("value must be a number")
    else:
        value = None
    return Policy(rule=rule, material=material, target=target, target_kind=kind, stage=stage,
                  value=value, strategy=strategy, whatif=whatif,
                  name=str(row.get("name", f"{rule} {target}")), row=0,
                  from_period=from_period)
