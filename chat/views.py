from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie


@ensure_csrf_cookie
def index(request):
    # The socket belongs to the Django session, so make sure one exists (and its cookie).
    if not request.session.session_key:
        request.session["started"] = True
        request.session.save()
    return render(request, "chat/index.html")
