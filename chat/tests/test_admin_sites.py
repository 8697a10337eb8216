"""The conversation list in the admin filters by the site a conversation came from."""

import pytest
from django.urls import reverse

from chat.models import Conversation
from widget.models import Site

pytestmark = pytest.mark.django_db


def test_the_conversation_list_filters_by_site_and_by_no_site(admin_client):
    shop = Site.objects.create(name="Shop", allowed_origins="https://shop.example")
    from_shop, from_page = Conversation.objects.create(site=shop), Conversation.objects.create()
    url = reverse("admin:chat_conversation_changelist")

    def listed(query: dict) -> list[int]:
        response = admin_client.get(url, query)
        assert response.status_code == 200
        return [c.pk for c in response.context["cl"].result_list]

    assert listed({"site__id__exact": shop.pk}) == [from_shop.pk]
    assert listed({"site__isnull": "True"}) == [from_page.pk]
    assert ">Shop</a>" in admin_client.get(url).content.decode()
