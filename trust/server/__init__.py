"""The trust as a server: the HTTP API (``app``), query jobs (``jobs``), the release API (``releases``)
and the output checkers' pages (``checker``, ``checker_views``, ``templates/checker``). What travels
between server and client is ``trust.wire``.
"""

DEFAULT_PORT = 8400
