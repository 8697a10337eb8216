"""KB collections in the admin: content editors run them, the article form files an
article in one, and the article list filters by it. They do not scope retrieval (sites,
issue 19, will)."""

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext

from knowledge.models import Article, Collection

pytestmark = pytest.mark.django_db


@pytest.fixture
def editor(client, django_user_model):
    user = django_user_model.objects.create_user("eddie", is_staff=True)
    user.groups.add(Group.objects.get(name="Content editors"))
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def test_content_editors_may_add_change_and_delete_collections(editor, django_user_model):
    response = editor.post(
        "/admin/knowledge/collection/add/", {"name": "Billing", "slug": "billing"}
    )

    assert response.status_code == 302
    billing = Collection.objects.get(slug="billing")
    eddie = django_user_model.objects.get(username="eddie")
    for action in ("view", "add", "change", "delete"):
        assert eddie.has_perm(f"knowledge.{action}_collection")
    assert editor.get(f"/admin/knowledge/collection/{billing.pk}/delete/").status_code == 200


def test_support_agents_may_not_see_collections(client, django_user_model):
    agent = django_user_model.objects.create_user("sam", is_staff=True)
    agent.groups.add(Group.objects.get(name="Support agents"))
    client.force_login(agent, backend="django.contrib.auth.backends.ModelBackend")

    assert client.get("/admin/knowledge/collection/").status_code == 403


def test_the_article_form_files_an_article_in_a_collection(editor):
    billing = Collection.objects.create(name="Billing", slug="billing")
    article = Article.objects.create(title="Invoices", slug="invoices", body="Old text.")

    response = editor.post(
        f"/admin/knowledge/article/{article.pk}/change/",
        {"title": "Invoices", "slug": "invoices", "collection": billing.pk, "published": "on",
         "body": "Old text.", "source_url": ""},
    )  # fmt: skip

    assert response.status_code == 302
    assert Article.objects.get(pk=article.pk).collection == billing


def test_the_article_list_filters_by_collection(editor):
    billing = Collection.objects.create(name="Billing", slug="billing")
    accounts = Collection.objects.create(name="Accounts", slug="accounts")
    Article.objects.create(title="Invoices", slug="invoices", body="x", collection=billing)
    Article.objects.create(title="Passwords", slug="passwords", body="x", collection=accounts)
    Article.objects.create(title="Unfiled", slug="unfiled", body="x")

    page = editor.get("/admin/knowledge/article/", {"collection__id__exact": billing.pk})
    unfiled = editor.get("/admin/knowledge/article/", {"collection__isnull": "True"})

    shown = page.content.decode()
    assert "Invoices" in shown and "Passwords" not in shown and "Unfiled" not in shown
    assert "By collection" in shown
    assert "Unfiled" in unfiled.content.decode() and "Invoices" not in unfiled.content.decode()


def _listed(client) -> tuple[str, int]:
    with CaptureQueriesContext(connection) as queries:
        page = client.get("/admin/knowledge/collection/").content.decode()
    return page, len(queries)


def test_the_collection_list_counts_articles_in_as_many_queries_for_many(editor):
    billing = Collection.objects.create(name="Billing", slug="billing")
    Article.objects.create(title="Invoices", slug="invoices", body="x", collection=billing)
    _, few = _listed(editor)

    for n in range(20):
        filed = Collection.objects.create(name=f"Product {n}", slug=f"product-{n}")
        Article.objects.create(title=f"Guide {n}", slug=f"guide-{n}", body="x", collection=filed)
        Article.objects.create(title=f"FAQ {n}", slug=f"faq-{n}", body="x", collection=filed)
    page, many = _listed(editor)

    assert many == few
    assert f'href="/admin/knowledge/article/?collection__id__exact={billing.pk}">1</a>' in page
    assert "?collection__id__exact=" in page and ">2</a>" in page
