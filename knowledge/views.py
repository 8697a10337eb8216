from django.shortcuts import get_object_or_404, render
from django_ratelimit.decorators import ratelimit

from core.links import link_allowed
from core.ratelimits import page_rate
from knowledge.extract import title_from_markdown
from knowledge.rendering import markdown_to_html
from knowledge.selectors import article_public_list


@ratelimit(group="pages", key="ip", rate=page_rate)
def article_index(request):
    articles = article_public_list().only("title", "slug")
    return render(request, "knowledge/index.html", {"articles": articles})


@ratelimit(group="pages", key="ip", rate=page_rate)
def article_detail(request, slug: str):
    article = get_object_or_404(article_public_list(), slug=slug)
    return render(
        request,
        "knowledge/article.html",
        {
            "article": article,
            "body_html": markdown_to_html(article.body),
            "show_title": title_from_markdown(article.body) is None,
            # An editor's source URL off DOCS_DOMAINS (a planted phishing page) is not
            # offered here either, as in the chat's sources.
            "source_url": article.source_url if link_allowed(article.source_url) else "",
        },
    )
