"""Every Policies rule has a test: adding a rule to resilience.domain.POLICY_RULES without
a `@pytest.mark.policy_rule(RULE)` test in tests/test_policies.py fails here."""

from __future__ import annotations

import ast
from pathlib import Path

from resilience.domain import POLICY_RULES

POLICY_TESTS = Path(__file__).with_name("test_policies.py")


def covered_rules(source: str) -> dict[str, list[str]]:
    """rule → names of the test functions decorated with pytest.mark.policy_rule(rule)."""
    covered: dict[str, list[str]] = {}
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef) or not node.name.startswith("test"):
            continue
        for decorator in node.decorator_list:
            if (isinstance(decorator, ast.Call)
                    and isinstance(decorator.func, ast.Attribute)
                    and decorator.func.attr == "policy_rule"
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
