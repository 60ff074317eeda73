"""The engine: sandboxed DuckDB, the only place that imports it.

Importing this package loads duckdb. It must be in the process before regopy (both ship their own
allocator, and regopy first aborts the process), so ``trust.policy.embedded`` imports this package
before regopy; tests/policy/test_embedded.py guards the order.
"""

import duckdb  # noqa: F401  (loaded for its allocator's sake; see above)
