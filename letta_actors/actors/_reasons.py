"""Why a message ended in dead letters (the reasons the cell and the bus record)."""

from __future__ import annotations

from enum import StrEnum


class DeadLetterReason(StrEnum):
    """Why a message ended in dead letters."""

    UNKNOWN_RECIPIENT = "unknown_recipient"
    RECIPIENT_STOPPED = "recipient_stopped"
    DROPPED_NEWEST = "dropped_newest"
    DROPPED_OLDEST = "dropped_oldest"
    HANDLER_FAILED = "handler_failed"
    CANCELLED = "cancelled"  # handling was cancelled (the stop deadline passed)
    NOT_PROCESSED = "not_processed"  # still queued when the actor stopped for good
    NOT_SENT = "not_sent"  # a transport could not send it to its recipient's node (NATS lost)
