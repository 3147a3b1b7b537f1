"""The monitor's alarm: the log contradicts itself or its signature is bad (exit 2)."""

from __future__ import annotations

from sceau.errors import VerificationError


class LogAlarm(VerificationError):
    """A log is inconsistent with what it showed before, or its checkpoint does not verify
    with the trusted key. The one error a monitor exists to raise."""
