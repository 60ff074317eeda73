"""The trust as a server: the HTTP API (``app``), query jobs (``jobs``), what travels (``wire``).

Kept free of imports so the client can use ``trust.server.wire`` without FastAPI.
"""

DEFAULT_PORT = 8400
