"""The insights dashboard in the admin (issue 18): a date range, the range's figures, a table
per day or week, the most-cited articles, two charts and a CSV file of every table, for
staff with insights.view_insights. The figures come from insights.selectors.dashboard;
this module only lays them out. helpdesk/urls.py serves these views at /admin/insights/
through the admin site's admin_view (its login, 2FA and staff check)."""

import csv
from collections.abc import Callable
from datetime import date, timedelta

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.core.validators import MaxValueValidator, MinValueValidator
from django.http import Http404, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from insights.selectors import SUPPORT_PAGE, CitedArticle, Dashboard, Figures, dashboard
from knowledge.models import Article, Collection
from widget.models import Site

DEFAULT_DAYS = 30
# A year of days is one long table; anything longer is a mistyped year.
MAX_DAYS = 366
# The page shows the top ten articles; a CSV file is for digging further.
PAGE_LIMIT, CSV_LIMIT = 10, 100
# Spreadsheets run a cell that starts with one of these as a formula (OWASP, CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f} ms"


def _average(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _count(value: int) -> str:
    return f"{value:,}"


# One list for the page's tables and the CSV files: (heading, field of Figures, shown as).
# The CSV file keeps the raw numbers (rates as fractions); the page formats them.
COLUMNS: list[tuple[str, str, Callable]] = [
    ("Conversations", "conversations", _count),
    ("Questions", "questions", _count),
    ("Answered", "answered", _count),
    ("Refused", "refused", _count),
    ("Fallback", "fallback", _count),
    ("Injection refusals", "injection", _count),
    ("Escalations", "escalations", _count),
    ("Resolution rate", "resolution_rate", _rate),
    ("Confirmed", "confirmed_rate", _rate),
    ("Assumed", "assumed_rate", _rate),
    ("Pending", "pending", _count),
    ("Deflection rate", "deflection_rate", _rate),
    ("Escalation rate", "escalation_rate", _rate),
    ("CSAT average", "csat_average", _average),
    ("CSAT answers", "csat_count", _count),
    ("Thumbs-up ratio", "thumbs_up_ratio", _rate),
    ("TTFT p50", "ttft_p50_ms", _ms),
    ("TTFT p95", "ttft_p95_ms", _ms),
]
CITED_COLUMNS = ["Title", "Slug", "Citations"]


class RangeForm(forms.Form):
    start = forms.DateField(
        required=False, validators=[MinValueValidator(date(2000, 1, 1))],
        widget=forms.DateInput(attrs={"type": "date"}),
    )  # fmt: skip
    end = forms.DateField(
        required=False, validators=[MaxValueValidator(date(2999, 12, 31))],
        widget=forms.DateInput(attrs={"type": "date"}),
    )  # fmt: skip
    by = forms.ChoiceField(choices=[("day", "Day"), ("week", "Week")], required=False)
    # Conversations whose answers cited the collection's articles; an unknown id is an error.
    collection = forms.TypedChoiceField(coerce=int, empty_value=None, required=False)
    # Conversations from one site's widget, or from the desk's own page (SUPPORT_PAGE).
    site = forms.TypedChoiceField(coerce=int, empty_value=None, required=False)

    def __init__(self, *args, collections: dict[int, str], sites: dict[int, str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["collection"].choices = [("", "All"), *collections.items()]
        self.fields["site"].choices = [
            ("", "All"), (SUPPORT_PAGE, "The support page"), *sites.items()
        ]  # fmt: skip

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        # A blank end is today, a blank start the 30 days before the end.
        data["end"] = data.get("end") or timezone.localdate()
        data["start"] = data.get("start") or data["end"] - timedelta(days=DEFAULT_DAYS - 1)
        data["by"] = data.get("by") or "day"
        if data["start"] > data["end"]:
            raise forms.ValidationError("The start date is after the end date.")
        if (data["end"] - data["start"]).days >= MAX_DAYS:
            raise forms.ValidationError(f"Choose a range of at most {MAX_DAYS} days.")
        return data


def chosen_range(
    query, *, collections: dict[int, str], sites: dict[int, str]
) -> tuple[RangeForm, dict]:
    """The range (collection and site) asked for, or the last 30 days by day of all
    collections and sites when none was, or when it is wrong (the form then carries the
    errors to show)."""
    today = timezone.localdate()
    chosen = {"start": today - timedelta(days=DEFAULT_DAYS - 1), "end": today, "by": "day",
              "collection": None, "site": None}  # fmt: skip
    asked = any(key in query for key in chosen)
    form = RangeForm(query if asked else None, initial=chosen, collections=collections, sites=sites)
    if asked and form.is_valid():
        chosen = {key: form.cleaned_data[key] for key in chosen}
    return form, chosen


def collection_names() -> dict[int, str]:
    """Every collection by id, in one query: the form's choices."""
    return dict(Collection.objects.order_by("name").values_list("pk", "name"))


def site_names() -> dict[int, str]:
    """Every site by id, inactive ones too (their conversations stay), in one query."""
    sites = Site.objects.order_by("name", "pk").values_list("pk", "name", "active")
    return {pk: name if active else f"{name} (inactive)" for pk, name, active in sites}


def range_query(chosen: dict) -> str:
    """The chosen range as the CSV links' query string."""
    return urlencode({key: value for key, value in chosen.items() if value is not None})


def figure_cells(figures: Figures) -> list[str]:
    return [shown(getattr(figures, name)) for _, name, shown in COLUMNS]


def figure_values(figures: Figures) -> list:
    values = [getattr(figures, name) for _, name, _ in COLUMNS]
    return ["" if v is None else round(v, 4) if isinstance(v, float) else v for v in values]


def chart_data(board: Dashboard) -> dict:
    """What static/insights/dashboard.js draws, as percentages for the rates."""

    def percent(value: float | None) -> float | None:
        return None if value is None else round(value * 100, 1)

    return {
        "labels": [f.start.isoformat() for f in board.periods],
        "conversations": [f.conversations for f in board.periods],
        "escalations": [f.escalations for f in board.periods],
        "confirmed": [percent(f.confirmed_rate) for f in board.periods],
        "assumed": [percent(f.assumed_rate) for f in board.periods],
    }


def cited_rows(cited: list[CitedArticle], pks: dict[str, int], can_edit: bool) -> list[dict]:
    """Each cited article with its KB and admin links, where it still exists."""
    rows = []
    for article in cited:
        pk = pks.get(article.slug)
        rows.append({
            "article": article,
            "kb_url": reverse("knowledge:article", args=[article.slug]) if pk else None,
            "admin_url": reverse("admin:knowledge_article_change", args=[pk])
            if pk and can_edit else None,
        })  # fmt: skip
    return rows


def safe_cell(value):
    """A text cell a spreadsheet would run as a formula, made text again."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _periods_table(board: Dashboard) -> tuple[list, list]:
    header = ["Period start"] + [heading for heading, _, _ in COLUMNS]
    return header, [[f.start.isoformat(), *figure_values(f)] for f in board.periods]


def _totals_table(board: Dashboard) -> tuple[list, list]:
    totals = board.totals or Figures(start=board.start)
    header = ["Start", "End"] + [heading for heading, _, _ in COLUMNS]
    return header, [[board.start.isoformat(), board.end.isoformat(), *figure_values(totals)]]


def _cited_table(cited: list[CitedArticle]) -> tuple[list, list]:
    return CITED_COLUMNS, [[a.title, a.slug, a.count] for a in cited]


CSV_TABLES: dict[str, Callable[[Dashboard], tuple[list, list]]] = {
    "totals": _totals_table,
    "periods": _periods_table,
    "cited": lambda board: _cited_table(board.most_cited),
    "downvoted": lambda board: _cited_table(board.cited_in_thumbs_down),
}


def _require_insights(request) -> None:
    # admin.site.admin_view (helpdesk/urls.py) already asked for an active staff user.
    if not request.user.has_perm("insights.view_insights"):
        raise PermissionDenied


def dashboard_page(request):
    _require_insights(request)
    collections, sites = collection_names(), site_names()
    form, chosen = chosen_range(request.GET, collections=collections, sites=sites)
    board = dashboard(**chosen, limit=PAGE_LIMIT)
    cited = board.most_cited + board.cited_in_thumbs_down
    # One query for the links of both lists, whatever their length.
    pks = dict(Article.objects.filter(slug__in={a.slug for a in cited}).values_list("slug", "pk"))
    can_edit = request.user.has_perm("knowledge.view_article")
    headings = [heading for heading, _, _ in COLUMNS]
    totals = board.totals or Figures(start=chosen["start"])
    context = {
        **admin.site.each_context(request),
        "title": "Insights",
        "form": form,
        "collections": collections,
        "collection_name": collections.get(chosen["collection"]),
        "sites": sites,
        "site_name": sites.get(chosen["site"]),
        "support_page": chosen["site"] == SUPPORT_PAGE,
        "board": board,
        "columns": headings,
        "headline": list(zip(headings, figure_cells(totals), strict=True)),
        "rows": [(f.start, figure_cells(f)) for f in board.periods],
        "article_tables": [
            ("Most-cited articles", "cited", cited_rows(board.most_cited, pks, can_edit)),
            (
                "Articles cited in answers that got a thumbs-down",
                "downvoted",
                cited_rows(board.cited_in_thumbs_down, pks, can_edit),
            ),
        ],  # fmt: skip
        "chart_data": chart_data(board),
        "range_query": range_query(chosen),
    }
    return TemplateResponse(request, "admin/insights/dashboard.html", context)


def dashboard_csv(request):
    _require_insights(request)
    table = request.GET.get("table")
    if table not in CSV_TABLES:
        raise Http404("No such table.")
    _, chosen = chosen_range(request.GET, collections=collection_names(), sites=site_names())
    header, rows = CSV_TABLES[table](dashboard(**chosen, limit=CSV_LIMIT))
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"insights-{table}-{chosen['start']}-{chosen['end']}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    writer.writerow(header)
    writer.writerows([safe_cell(cell) for cell in row] for row in rows)
    return response
