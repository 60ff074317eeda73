"""trust.policy: the decision point. Only this package imports regopy and opa-python-client.

Importing regopy before duckdb aborts the process (both ship their own allocator), so this package
loads the engine (duckdb) before any of its modules can load regopy; tests/policy/test_embedded.py
guards the order.
"""

import trust.engine  # noqa: F401  (duckdb before regopy: see above)
from trust.policy.decision import Decision
from trust.policy.select import Policy, select_policy

__all__ = ["Decision", "Policy", "select_policy"]
