"""A logged-in support agent for the browser tests."""

from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.test import Client

from tickets.models import SavedReply, Ticket

# What "Support agents" may do in these tests. A transactional test's flushed database has
# no groups from migrations, so the permissions are given one by one.
AGENT_PERMISSIONS = ((Ticket, "view_ticket"), (Ticket, "change_ticket"),
                     (SavedReply, "view_savedreply"))  # fmt: skip


def agent_context(browser, live_url: str, django_user_model, name: str = "sam"):
    """A browser context with the admin session of an agent, first name "Sam"."""
    user = django_user_model.objects.create_user(name, is_staff=True, first_name=name.title())
    for model, codename in AGENT_PERMISSIONS:
        permission, _ = Permission.objects.get_or_create(
            codename=codename,
            content_type=ContentType.objects.get_for_model(model),
            defaults={"name": codename},
        )
        user.user_permissions.add(permission)
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    context = browser.new_context()
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_url}]
    )
    return context
