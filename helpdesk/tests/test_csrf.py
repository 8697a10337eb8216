"""The HTTP endpoints keep Django's CSRF protection: a POST from another site, which carries
the visitor's cookies but not the token, is refused."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser():
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_superuser("sam", "sam@example.com", "a-long-pass-1")


def test_a_login_post_without_the_token_is_refused(browser, staff):
    response = browser.post("/admin/login/", {"username": "sam", "password": "a-long-pass-1"})
    assert response.status_code == 403
    assert "_auth_user_id" not in browser.session


def test_a_login_post_with_the_token_is_accepted(browser, staff):
    browser.get("/admin/login/")
    token = browser.cookies["csrftoken"].value
    response = browser.post(
        "/admin/login/",
        {"username": "sam", "password": "a-long-pass-1", "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302


def test_an_admin_change_without_the_token_is_refused(browser, staff):
    browser.force_login(staff)
    response = browser.post("/admin/knowledge/article/add/", {"slug": "x", "title": "X"})
    assert response.status_code == 403


def test_the_support_page_sets_the_csrf_cookie(browser):
    assert "csrftoken" in browser.get("/").cookies
