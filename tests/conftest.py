"""Shared pytest configuration: the `policy_rule` marker ties a test to a Policies rule
(tests/test_policy_coverage.py checks that every rule has one)."""


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "policy_rule(name): the test covers this Policies rule (see "
        "resilience.domain.POLICY_RULES)")
    config.addinivalue_line(
        "markers", "policy_feature(name): the test covers a stage or from_period of Policies "
        "rows (see tests/test_policy_coverage.py)")
    config.addinivalue_line(
        "markers", "found_bug(reason): a regression test for a bug a test found and we fixed")
