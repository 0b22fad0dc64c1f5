"""Every Policies rule has a test: adding a rule to resilience.domain.POLICY_RULES without
a `@pytest.mark.policy_rule(RULE)` test in tests/test_policies.py fails here. So does
every stage a row can name (origin, processing, both, owner) and from_period (SPEC §7),
through `@pytest.mark.policy_feature(...)`."""

from __future__ import annotations

import ast
from pathlib import Path

from resilience.domain import ALL_STAGES, POLICY_RULES

POLICY_TESTS = Path(__file__).with_name("test_policies.py")


# What a Policies row can say besides its rule: each stage, and from when it applies.
POLICY_FEATURES = tuple(f"stage:{s}" for s in (*ALL_STAGES, "both")) + ("from_period",)


def covered_rules(source: str, marker: str = "policy_rule") -> dict[str, list[str]]:
    """rule → names of the test functions decorated with pytest.mark.policy_rule(rule)
    (or another marker's argument → its tests)."""
    covered: dict[str, list[str]] = {}
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef) or not node.name.startswith("test"):
            continue
        for decorator in node.decorator_list:
            if (isinstance(decorator, ast.Call)
                    and isinstance(decorator.func, ast.Attribute)
                    and decorator.func.attr == marker
                    and decorator.args
                    and isinstance(decorator.args[0], ast.Constant)):
                covered.setdefault(decorator.args[0].value, []).append(node.name)
    return covered


def test_every_policy_rule_has_a_test():
    covered = covered_rules(POLICY_TESTS.read_text(encoding="utf-8"))
    missing = [rule for rule in POLICY_RULES if rule not in covered]
    assert not missing, f"Policies rules without a @pytest.mark.policy_rule test in " \
                        f"{POLICY_TESTS.name}: {', '.join(missing)}"


def test_markers_name_only_known_rules():
    """A typo in a marker would silently leave a rule uncovered."""
    covered = covered_rules(POLICY_TESTS.read_text(encoding="utf-8"))
    unknown = sorted(set(covered) - set(POLICY_RULES))
    assert not unknown, f"policy_rule markers naming no rule: {', '.join(unknown)}"


def test_the_check_notices_a_missing_rule():
    source = '@pytest.mark.policy_rule("max_hhi")\ndef test_x():\n    pass\n'
    assert set(covered_rules(source)) == {"max_hhi"}


def test_every_stage_and_from_period_has_a_test():
    covered = covered_rules(POLICY_TESTS.read_text(encoding="utf-8"), "policy_feature")
    missing = [f for f in POLICY_FEATURES if f not in covered]
    assert not missing, f"Policies features without a @pytest.mark.policy_feature test in " \
                        f"{POLICY_TESTS.name}: {', '.join(missing)}"
    unknown = sorted(set(covered) - set(POLICY_FEATURES))
    assert not unknown, f"policy_feature markers naming nothing known: {', '.join(unknown)}"
