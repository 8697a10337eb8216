from widget.models import Site


def site_active(*, key: str) -> Site | None:
    """The active site with this public key, with its collection, or None."""
    if not isinstance(key, str) or len(key) > 32:
        return None
    return Site.objects.filter(key=key, active=True).first()


def site_config(*, site: Site, frame_url: str) -> dict:
    """What the loader (static/widget/loader.js) draws its launcher with. Public: any page
    of the site's origins reads it."""
    return {
        "title": site.shown_title,
        "colour": site.colour,
        "position": site.position,
        "language": site.language,
        "frame": frame_url,
    }
