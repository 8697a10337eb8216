"""Reads for the insights dashboard (insights/admin_views.py). CONTRACT: the dashboard page
is built against these signatures; their bodies are being written (issue 18)."""

from dataclasses import dataclass, field
from datetime import date


@dataclass
class Figures:
    """One period's figures (a day or a week), or the whole range's."""

    start: date
    conversations: int = 0
    questions: int = 0
    answered: int = 0
    refused: int = 0
    fallback: int = 0
    injection: int = 0
    escalations: int = 0
    confirmed: int = 0
    assumed: int = 0
    unresolved: int = 0
    pending: int = 0
    thumbs_up: int = 0
    thumbs_down: int = 0
    csat_average: float | None = None
    csat_count: int = 0
    ttft_p50_ms: float | None = None
    ttft_p95_ms: float | None = None

    @property
    def decided(self) -> int:
        return self.confirmed + self.assumed + self.unresolved

    @property
    def resolution_rate(self) -> float | None:
        """(confirmed + assumed) / decided; None when nothing is decided yet."""
        return (self.confirmed + self.assumed) / self.decided if self.decided else None

    @property
    def confirmed_rate(self) -> float | None:
        return self.confirmed / self.decided if self.decided else None

    @property
    def assumed_rate(self) -> float | None:
        return self.assumed / self.decided if self.decided else None

    @property
    def deflection_rate(self) -> float | None:
        """Conversations that never became tickets."""
        if not self.conversations:
            return None
        return (self.conversations - self.escalations) / self.conversations

    @property
    def escalation_rate(self) -> float | None:
        return self.escalations / self.conversations if self.conversations else None

    @property
    def thumbs_up_ratio(self) -> float | None:
        thumbs = self.thumbs_up + self.thumbs_down
        return self.thumbs_up / thumbs if thumbs else None


@dataclass
class CitedArticle:
    title: str
    slug: str
    count: int


@dataclass
class Dashboard:
    start: date
    end: date  # inclusive
    by: str  # "day" or "week"
    periods: list[Figures] = field(default_factory=list)  # oldest first, empty ones included
    totals: Figures | None = None
    most_cited: list[CitedArticle] = field(default_factory=list)
    cited_in_thumbs_down: list[CitedArticle] = field(default_factory=list)


def dashboard(*, start: date, end: date, by: str = "day", limit: int = 10) -> Dashboard:
    """The figures of conversations that started from `start` to `end` (inclusive, in
    TIME_ZONE), per day or per ISO week (weeks start on Monday), from the Outcome rollup
    and a few aggregate queries: a constant number of queries whatever the volume."""
    raise NotImplementedError
