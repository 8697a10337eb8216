"""The brand an answer speaks with: the desk's settings (helpdesk/settings/brand.py and the
answer texts), or those of the site whose widget the conversation came from (widget.Site).

Each of a site's fields overrides the desk's; a blank one falls back to it. `site` is the
conversation's, loaded with it (chat.services.conversation_get), or None on the desk's own
page.
"""

from django.conf import settings

from chat.prompts import system_prompt


def prompt_for(site) -> str:
    """The system prompt: the site's product, assistant and intro, else the desk's."""
    if site is None:
        return system_prompt()
    return system_prompt(
        product=site.product_name.strip(),
        assistant=site.assistant_name.strip(),
        intro=site.prompt_intro.strip(),
    )


def refusal_text(site) -> str:
    """What a question without evidence gets (no model call, so in the site's words)."""
    return (site and site.refusal_text.strip()) or settings.REFUSAL_TEXT


def fallback_text(site, *, sources: bool) -> str:
    """What the customer reads when the model fails, with its articles below or none. A
    site has one fallback text, for both: it is the site's own words, often in its own
    language, where the desk's would be the desk's."""
    own = site and site.fallback_text.strip()
    if own:
        return own
    return settings.FALLBACK_TEXT if sources else settings.FALLBACK_TEXT_NO_SOURCES


def retrieval_scope(site) -> dict:
    """retrieve()'s keywords for the site's KB collection: none without one, so answers
    come from the whole KB, as on the desk's own page."""
    collection_id = site and site.collection_id
    return {"collection": collection_id} if collection_id else {}
