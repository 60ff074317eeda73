"""Every kind of audit event the trust writes: one enum, so a kind cannot be misspelt into a new one."""

from __future__ import annotations

import enum


class EventKind(enum.StrEnum):
    # people and access
    USER_ADDED = "user_added"
    USER_DISABLED = "user_disabled"
    TOKEN_ISSUED = "token_issued"
    TOKEN_REVOKED = "token_revoked"
    ACCESS_DENIED = "access_denied"
    CHECKER_SIGNED_IN = "checker_signed_in"
    CHECKER_SIGNED_OUT = "checker_signed_out"
    CSRF_REFUSED = "csrf_refused"
    # queries
    QUERY_REFUSED = "query_refused"
    QUERY_FAILED = "query_failed"
    QUERY_CANCELLED = "query_cancelled"  # stopped by its analyst before it made an output
    OUTPUT_CREATED = "output_created"
    # the data read in place
    DATASET_REGISTERED = "dataset_registered"
    DATASET_CHANGED = "dataset_changed"
    DATASET_REFRESHED = "dataset_refreshed"
    DATASET_UNAVAILABLE = "dataset_unavailable"
    DATASET_AVAILABLE = "dataset_available"
    # the airlock
    RELEASE_CREATED = "release_created"
    RELEASE_EDITED = "release_edited"
    RELEASE_REVIEWED = "release_reviewed"
    RELEASE_COMMENTED = "release_commented"  # a comment or reply on a request, an output or a cell
    RELEASE_TRANSITION = "release_transition"
    RELEASE_VIEWED = "release_viewed"
    RELEASE_DOWNLOADED = "release_downloaded"
    NOTIFICATION_SENT = "notification_sent"  # an e-mail or webhook about a request, delivered
    NOTIFICATION_FAILED = "notification_failed"  # given up on after its retries
    # data-sharing applications and the agreements they become (trust.service.agreements)
    APPLICATION_DRAFTED = "application_drafted"
    APPLICATION_CHANGED = "application_changed"
    APPLICATION_SUBMITTED = "application_submitted"
    APPLICATION_WITHDRAWN = "application_withdrawn"
    APPLICATION_DECIDED = "application_decided"  # one data owner's decision on their department's part
    APPLICATION_CLOSED = "application_closed"  # approved by every department, or rejected by one
    AGREEMENT_MADE = "agreement_made"  # a new version of a project's agreement, in force at once
    # the audit itself
    AUDIT_EXPORTED = "audit_exported"
    STATE_DISAGREES = "state_disagrees"  # a stored record differed from its events; the trust did not act on it
