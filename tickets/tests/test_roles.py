import pytest
from django.contrib.auth.models import Group


@pytest.fixture
def agent(django_user_model, client):
    user = django_user_model.objects.create_user("agent", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name="Support agents"))
    client.force_login(user)
    return client


@pytest.fixture
def editor(django_user_model, client):
    user = django_user_model.objects.create_user("editor", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name="Content editors"))
    client.force_login(user)
    return client


def test_an_agent_works_tickets_and_reads_conversations(agent):
    assert agent.get("/admin/tickets/ticket/").status_code == 200
    assert agent.get("/admin/chat/conversation/").status_code == 200


def test_an_agent_cannot_touch_articles(agent):
    assert agent.get("/admin/knowledge/article/").status_code == 403
    assert agent.get("/admin/knowledge/article/add/").status_code == 403
    assert agent.get("/admin/knowledge/embeddingindex/").status_code == 403


def test_an_agent_cannot_delete_tickets_or_edit_conversations(agent):
    from django.contrib.auth.models import User

    user = User.objects.get(username="agent")
    assert not user.has_perm("tickets.delete_ticket")
    assert not user.has_perm("chat.change_conversation")


def test_an_editor_runs_the_knowledge_base(editor):
    assert editor.get("/admin/knowledge/article/").status_code == 200
    assert editor.get("/admin/knowledge/article/add/").status_code == 200
    assert editor.get("/admin/knowledge/embeddingindex/").status_code == 200


def test_an_editor_cannot_see_tickets_or_conversations(editor):
    assert editor.get("/admin/tickets/ticket/").status_code == 403
    assert editor.get("/admin/chat/conversation/").status_code == 403
