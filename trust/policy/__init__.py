"""trust.policy: the decision point. Only this package imports regopy and opa-python-client.

Importing regopy before duckdb aborts the process (both ship their own allocator); ``trust.policy.embedded``
imports the engine first, and tests/policy/test_embedded.py guards the order.
"""

from trust.policy.decision import Decision
from trust.policy.select import Policy, select_policy

__all__ = ["Decision", "Policy", "select_policy"]
