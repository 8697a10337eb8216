"""A budget of frames per socket, per frame type, kept in the socket itself.

Questions and escalations are also counted in Redis per session and per address
(core/ratelimits.py). This budget covers every frame, those included, without a
Redis trip: a feedback frame updates a row on the threads that answers share, and even a
malformed frame costs an error reply. A socket that keeps sending past its budget long
after being told is closed.
"""

import time

from django.conf import settings


class FrameBudget:
    """A token bucket per frame type: CHAT_SOCKET_BURST frames at once, refilled at
    CHAT_SOCKET_FRAMES_PER_MINUTE."""

    def __init__(self) -> None:
        self.tokens: dict[str, float] = {}
        self.checked: dict[str, float] = {}
        # Frames refused since the socket was last within its budget.
        self.refused = 0

    def allow(self, kind: str) -> bool:
        now = time.monotonic()
        burst = settings.CHAT_SOCKET_BURST
        rate = settings.CHAT_SOCKET_FRAMES_PER_MINUTE / 60
        elapsed = now - self.checked.get(kind, now)
        tokens = min(burst, self.tokens.get(kind, burst) + elapsed * rate)
        self.checked[kind] = now
        if tokens < 1:
            self.tokens[kind] = tokens
            self.refused += 1
            return False
        self.tokens[kind] = tokens - 1
        self.refused = 0
        return True

    def retry_after(self, kind: str) -> int:
        """Whole seconds until the next frame of this type is allowed."""
        rate = settings.CHAT_SOCKET_FRAMES_PER_MINUTE / 60
        return max(1, int((1 - self.tokens.get(kind, 0)) / rate) + 1)

    def told(self) -> bool:
        """Is this the first refusal in a row (the one the customer is told about)?"""
        return self.refused == 1

    def exhausted(self) -> bool:
        """Has the socket ignored the refusals for so long that it should be closed?"""
        return self.refused > settings.CHAT_SOCKET_BURST * 5
