"""The insights dashboard filtered by site (widget.Site): the selector's figures for one
site's conversations or the support page's (no site), with or without a KB collection, and
the page's Site select, its CSV links and its errors."""

import re
from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chat.models import Conversation
from insights import admin_views
from insights.models import Outcome
from insights.rollup import outcomes_roll_up
from insights.selectors import SUPPORT_PAGE, dashboard
from insights.tests.test_dashboard_figures import (
    MONDAY,
    NOW,
    SUNDAY,
    conversation,
    escalate,
    source,
    utc,
)
from insights.tests.test_dashboard_page import (
    CSV_URL,
    TODAY,
    URL,
    known_dashboard,
    rows_of,
    staff,
)
from knowledge.models import Article, Collection
from widget.models import Site


def site_new(name: str, *, active: bool = True) -> Site:
    return Site.objects.create(name=name, allowed_origins="https://shop.example", active=active)


def ttft(ms: int) -> dict:
    return {"timings": {"llm_ttft": ms}}


@pytest.fixture
def three_sources(db):
    """Two conversations from the Shop's widget, one from the Docs', two on the support
    page; "reset" is filed in Accounts, "billing" in Billing. Returns the ids."""
    accounts = Collection.objects.create(name="Accounts", slug="accounts")
    billing = Collection.objects.create(name="Billing", slug="billing")
    Article.objects.create(slug="reset", title="Reset", collection=accounts)
    Article.objects.create(slug="billing", title="Billing", collection=billing)
    shop, docs = site_new("Shop"), site_new("Docs")
    sited = [
        (shop, conversation(utc(2, 9), {"sources": [source("reset")], "feedback": "up",
                                        **ttft(100)})),
        (shop, conversation(utc(3, 9), {"sources": [source("billing")], "feedback": "down",
                                        **ttft(300)})),
        (docs, conversation(utc(2, 10), {"sources": [source("reset")], **ttft(1000)})),
        (None, conversation(utc(4, 9), {"sources": [source("reset"), source("billing")],
                                        **ttft(5000)})),
        (None, conversation(utc(5, 9), {"refused": True})),
    ]  # fmt: skip
    for site, chat in sited:
        Conversation.objects.filter(pk=chat.pk).update(site=site)
    escalate(sited[1][1], csat=2)
    escalate(sited[2][1], csat=5)
    outcomes_roll_up(now=NOW)
    return {"shop": shop.pk, "docs": docs.pk, "accounts": accounts.pk, "billing": billing.pk}


def cited(articles) -> list[tuple[str, int]]:
    return [(a.slug, a.count) for a in articles]


def test_a_site_shows_only_its_own_conversations(three_sources):
    shop = dashboard(start=MONDAY, end=SUNDAY, site=three_sources["shop"])
    docs = dashboard(start=MONDAY, end=SUNDAY, site=three_sources["docs"])

    # Not the Docs' 1000 ms nor the support page's 5000 ms.
    assert (shop.totals.conversations, shop.totals.escalations, shop.totals.csat_average) == (
        2, 1, 2.0,
    )  # fmt: skip
    assert [d.conversations for d in shop.periods if d.conversations] == [1, 1]
    assert shop.totals.ttft_p50_ms == 200 and shop.totals.ttft_p95_ms == pytest.approx(290)
    assert cited(shop.most_cited) == [("billing", 1), ("reset", 1)]
    assert cited(shop.cited_in_thumbs_down) == [("billing", 1)]
    assert (docs.totals.conversations, docs.totals.ttft_p50_ms) == (1, 1000)
    assert cited(docs.most_cited) == [("reset", 1)] and docs.cited_in_thumbs_down == []


def test_the_support_page_shows_only_the_conversations_of_no_site(three_sources):
    page = dashboard(start=MONDAY, end=SUNDAY, site=SUPPORT_PAGE)

    assert (page.totals.conversations, page.totals.refused, page.totals.escalations) == (2, 1, 0)
    assert (page.totals.ttft_p50_ms, page.totals.ttft_p95_ms) == (5000, 5000)
    assert cited(page.most_cited) == [("billing", 1), ("reset", 1)]
    assert dashboard(start=MONDAY, end=SUNDAY).totals.conversations == 5  # every one


def test_a_site_and_a_collection_combine(three_sources):
    ids = three_sources

    shop_accounts = dashboard(start=MONDAY, end=SUNDAY, site=ids["shop"],
                              collection=ids["accounts"])  # fmt: skip
    page_billing = dashboard(start=MONDAY, end=SUNDAY, site=SUPPORT_PAGE,
                             collection=ids["billing"])  # fmt: skip
    docs_billing = dashboard(start=MONDAY, end=SUNDAY, site=ids["docs"],
                             collection=ids["billing"])  # fmt: skip

    assert (shop_accounts.totals.conversations, shop_accounts.totals.confirmed) == (1, 1)
    assert shop_accounts.totals.ttft_p50_ms == 100
    assert cited(shop_accounts.most_cited) == [("reset", 1)]
    assert (page_billing.totals.conversations, page_billing.totals.ttft_p50_ms) == (1, 5000)
    assert cited(page_billing.most_cited) == [("billing", 1)]
    assert docs_billing.totals.conversations == 0 and docs_billing.most_cited == []
    assert docs_billing.totals.ttft_p50_ms is None


def test_a_deleted_sites_conversations_count_as_the_support_pages_at_once(three_sources):
    Site.objects.filter(pk=three_sources["docs"]).delete()  # Conversation.site: SET_NULL

    page = dashboard(start=MONDAY, end=SUNDAY, site=SUPPORT_PAGE)

    assert (page.totals.conversations, page.totals.ttft_p50_ms) == (3, 3000)  # 1000, 5000
    assert dashboard(start=MONDAY, end=SUNDAY, site=three_sources["docs"]).totals.conversations == 0


@pytest.mark.parametrize("count", [10, 100])
@pytest.mark.parametrize("of_site", [True, False])
def test_a_sites_figures_take_three_queries_whatever_the_volume(
    db, count, of_site, django_assert_num_queries
):
    shop = site_new("Shop")
    filed = Collection.objects.create(name="Filed", slug="filed")
    Article.objects.create(slug="a0", title="A0", collection=filed)
    for n in range(count):
        chat = conversation(utc(2 + n % 14, 9), {"sources": [source(f"a{n % 2}")], **ttft(n)})
        Conversation.objects.filter(pk=chat.pk).update(site=shop if n % 3 else None)
    outcomes_roll_up(now=NOW)
    site = shop.pk if of_site else SUPPORT_PAGE

    with django_assert_num_queries(3):
        figures = dashboard(start=MONDAY, end=SUNDAY, by="week", site=site, collection=filed.pk)

    assert figures.totals.conversations == sum(
        n % 2 == 0 and bool(n % 3) == of_site for n in range(count)
    )
    assert [a.slug for a in figures.most_cited] == ["a0"]


# --- The page --------------------------------------------------------------------------


@pytest.fixture
def calls(monkeypatch) -> list[dict]:
    """The page's selector returns known figures; each call's arguments are recorded."""
    made: list[dict] = []

    def fake(**kwargs):
        made.append(kwargs)
        return known_dashboard(**kwargs)

    monkeypatch.setattr(admin_views, "dashboard", fake)
    monkeypatch.setattr(timezone, "localdate", lambda *args: TODAY)
    return made


@pytest.fixture
def lead(db, client, django_user_model):
    user = staff(django_user_model, "lee", codenames=["view_insights", "view_article"])
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def csv_links(page: str) -> list[str]:
    return re.findall(r'href="/admin/insights/dashboard\.csv\?([^"]*)"', page)


def test_the_site_select_appears_once_a_site_exists_and_lists_inactive_ones(lead, calls):
    assert 'name="site"' not in lead.get(URL).content.decode()
    shop = site_new("Shop")
    old = site_new("Old shop", active=False)

    page = lead.get(URL).content.decode()

    select = page.split('name="site"')[1].split("</select>")[0]
    assert re.findall(r'<option value="(\d*)"[^>]*>([^<]*)</option>', select) == [
        ("", "All"), ("0", "The support page"), (str(old.pk), "Old shop (inactive)"),
        (str(shop.pk), "Shop"),
    ]  # fmt: skip
    assert '<option value="" selected>All</option>' in select


def test_a_site_filters_the_figures_and_the_csv_links_carry_it(lead, calls):
    shop = site_new("<b>Shop</b>")
    query = {"start": "2026-11-30", "end": "2026-12-01", "site": shop.pk}

    page = lead.get(URL, query).content.decode()
    lead.get(CSV_URL, {"table": "cited", **query})

    assert calls[0]["site"] == shop.pk and calls[1]["site"] == shop.pk
    assert f'<option value="{shop.pk}" selected>' in page
    links = csv_links(page)
    assert len(links) == 4 and all(f"site={shop.pk}" in link for link in links)
    # An administrator names a site: shown as text.
    assert "from the site <strong>&lt;b&gt;Shop&lt;/b&gt;</strong>" in page
    assert "<b>Shop</b>" not in page


def test_the_support_page_and_a_collection_are_carried_together(lead, calls):
    site_new("Shop")
    billing = Collection.objects.create(name="Billing", slug="billing")
    query = {"site": "0", "collection": billing.pk}

    page = lead.get(URL, query).content.decode()
    lead.get(CSV_URL, {"table": "totals", **query})

    assert [(c["site"], c["collection"]) for c in calls] == [(0, billing.pk), (0, billing.pk)]
    assert '<option value="0" selected>The support page</option>' in page
    assert "Conversations of the support page (no site) that started" in page
    links = csv_links(page)
    assert len(links) == 4
    assert all("site=0" in link and f"collection={billing.pk}" in link for link in links)


@pytest.mark.parametrize("asked", ["999999", "shop", "-1", "1.5"])
def test_an_unknown_site_is_a_form_error_and_all_sites_are_shown(lead, calls, asked):
    site_new("Shop")

    response = lead.get(URL, {"site": asked})
    csv_file = lead.get(CSV_URL, {"table": "totals", "site": asked})

    assert response.status_code == 200 and csv_file.status_code == 200
    page = response.content.decode()
    assert "errornote" in page and "Select a valid choice." in page
    assert "of all sites instead" in page
    assert [call["site"] for call in calls] == [None, None]


def outcome(*, site: Site | None) -> None:
    chat = Conversation.objects.create(site=site)
    Outcome.objects.create(
        conversation=chat, started_on=date(2026, 11, 30), questions=1, answered=1,
        resolution="assumed", computed_at=timezone.now(),
    )  # fmt: skip


def test_a_site_shows_its_real_figures_on_the_page_and_in_the_csv(lead):
    shop, docs = site_new("Shop"), site_new("Docs")
    for site in [shop, shop, docs, None, None, None]:
        outcome(site=site)
    span = {"start": "2026-11-30", "end": "2026-12-01"}

    def conversations(site) -> str:
        totals = rows_of(lead.get(CSV_URL, {"table": "totals", **span, "site": site}))
        return dict(zip(totals[0], totals[1], strict=True))["Conversations"]

    page = lead.get(URL, {**span, "site": shop.pk}).content.decode()

    assert "<dt>Conversations</dt><dd>2</dd>" in page
    assert [conversations(site) for site in [shop.pk, docs.pk, 0]] == ["2", "1", "3"]


def test_the_page_runs_as_many_queries_for_a_site_at_100_conversations_as_at_10(lead):
    shop = site_new("Shop")
    query = {"start": "2026-11-01", "end": "2026-11-30", "by": "week", "site": shop.pk}
    for _ in range(10):
        outcome(site=shop)
    with CaptureQueriesContext(connection) as ten:
        assert lead.get(URL, query).status_code == 200

    for _ in range(90):
        outcome(site=shop)
    with CaptureQueriesContext(connection) as hundred:
        assert lead.get(URL, query).status_code == 200

    assert len(hundred) == len(ten)
