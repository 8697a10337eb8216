from django.shortcuts import get_object_or_404, render

from knowledge.extract import title_from_markdown
from knowledge.models import Article
from knowledge.rendering import markdown_to_html


def article_index(request):
    articles = Article.objects.only("title", "slug")
    return render(request, "knowledge/index.html", {"articles": articles})


def article_detail(request, slug: str):
    article = get_object_or_404(Article, slug=slug)
    return render(
        request,
        "knowledge/article.html",
        {
            "article": article,
            "body_html": markdown_to_html(article.body),
            "show_title": title_from_markdown(article.body) is None,
        },
    )
