"""Where the site may send a reader: this site's own pages and the docs domains.

Article source URLs come from fields that uploads and editors fill in, so a link to
anywhere else (a phishing page planted in an article's source URL) is never offered:
not in a chat answer's sources (chat/services.py), not on the public KB page
(knowledge/views.py). The chat page applies the same rule again (static/chat/chat.js).
It lives in the core because both the chat and the knowledge apps apply it.
"""

from urllib.parse import urlsplit

from django.conf import settings


def link_allowed(url: str) -> bool:
    """A relative path on this site, or http(s) to a host in DOCS_DOMAINS."""
    if not url or "\\" in url or any(c.isspace() or ord(c) < 32 for c in url):
        return False
    if url.startswith("/"):
        return not url.startswith("//")  # "//host/..." is another site
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.username or parts.password:
        return False
    return host_in(parts.hostname or "", settings.DOCS_DOMAINS)


def host_in(host: str, domains: list[str]) -> bool:
    """ALLOWED_HOSTS-style matching: "docs.example.com" exactly, ".example.com" for the
    domain and every subdomain."""
    host = host.lower().rstrip(".")
    for domain in (d.lower() for d in domains):
        if host == domain.lstrip(".") or (domain.startswith(".") and host.endswith(domain)):
            return True
    return False
