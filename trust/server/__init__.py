"""The trust as a server: the HTTP API (``app``), query jobs (``jobs``), what travels (``wire``),
the release API (``releases``) and the output checkers' pages (``checker``, ``checker_views``,
``checker_sessions``, ``templates/checker``).

Kept free of imports so the client can use ``trust.server.wire`` without FastAPI.
"""

DEFAULT_PORT = 8400
