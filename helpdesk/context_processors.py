"""What every page says about whose desk it is: the brand settings (helpdesk/settings/brand.py)."""

from types import SimpleNamespace

from django.conf import settings


def brand(request=None) -> dict:
    """`{{ brand.name }}`, `.product`, `.assistant` and `.greeting` in any template. Read
    from settings only, so the degraded page can have it while the database is down."""
    return {
        "brand": SimpleNamespace(
            name=settings.SITE_NAME,
            product=settings.DESK_PRODUCT_NAME,
            assistant=settings.DESK_ASSISTANT_NAME,
            greeting=settings.DESK_GREETING,
        )
    }
