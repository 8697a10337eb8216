from django.shortcuts import get_object_or_404, render
from django_ratelimit.decorators import ratelimit

from helpdesk.ratelimits import page_rate
from knowledge.extract import title_from_markdown
from knowledge.models import Article
from knowledge.rendering import markdown_to_html


def public_articles():
    # Drafts are not published yet, and a held-back article's text addresses the
    # assistant: neither is shown to the public until an editor says so.
    return Article.objects.filter(published=True).exclude(status=Article.Status.FLAGGED)


@ratelimit(group="pages", key="ip", rate=page_rate)
def article_index(request):
    articles = public_articles().only("title", "slug")
    return render(request, "knowledge/index.html", {"articles": articles})


@ratelimit(group="pages", key="ip", rate=page_rate)
def article_detail(request, slug: str):
    article = get_object_or_404(public_articles(), slug=slug)
    return render(
        request,
        "knowledge/article.html",
        {
            "article": article,
            "body_html": markdown_to_html(article.body),
            "show_title": title_from_markdown(article.body) is None,
        },
    )
