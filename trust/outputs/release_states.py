"""The names in the airlock's state machine: a request's states, who moves it, a review's decisions."""

from __future__ import annotations

import enum


class ReleaseState(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    UNDER_REVIEW = "under_review"
    APPROVED = "approved"
    REJECTED = "rejected"
    RETURNED = "returned"
    RELEASED = "released"
    WITHDRAWN = "withdrawn"


class Actor(enum.StrEnum):
    """Who moves a request: its author, an output checker, the trust itself, or nobody (it is finished)."""

    AUTHOR = "author"
    CHECKER = "checker"
    SYSTEM = "system"
    NOBODY = "nobody"


class ReviewDecision(enum.StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    CHANGES = "changes"  # request changes: the request goes back to its author
