"""The one business layer (DESIGN section 3): queries, the airlock, access and checkers' sessions.

It composes the lower layers (``sql``, ``policy``, ``engine``, ``sdc``, ``store``, ``audit``) and
is called by the interfaces (``cli``, ``server``, the magic); it never imports them.
"""

from trust.service.access import User
from trust.service.trust import Session, Trust, connect

__all__ = ["Session", "Trust", "User", "connect"]
