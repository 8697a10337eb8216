"""The Content-Security-Policy header, on every HTTP response.

Model output and uploaded articles end up in pages; if anything ever slipped through as
markup, the browser still runs no inline script, loads nothing from another host, and
sends forms nowhere else. Django 5.2 has no CSP support of its own, and one fixed header
needs no package. The templates keep to it: no inline <script>, style="" or on* handlers
(helpdesk/tests/test_csp.py checks them), and the admin's own templates have none either.
"""

from asgiref.sync import iscoroutinefunction, markcoroutinefunction


def policy(*, frame_ancestors: str = "'none'") -> str:
    """The policy; a page that other sites may frame (the widget's, chat/views.py) names
    them in `frame_ancestors`, checked origins separated by spaces."""
    return "; ".join(
        [
            *DIRECTIVES,
            f"frame-ancestors {frame_ancestors}",
            "form-action 'self'",
        ]
    )


DIRECTIVES = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    # The chat socket: ws:/wss: to this host (a scheme source matches any host, and
    # 'self' covers ws: only from CSP level 3 on).
    "connect-src 'self' ws: wss:",
    "object-src 'none'",
    "base-uri 'none'",
)
POLICY = policy()


class ContentSecurityPolicyMiddleware:
    sync_capable = async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        # Under daphne the stack is async; staying async avoids a thread hop per request.
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self._acall(request)
        return self._with_policy(self.get_response(request))

    async def _acall(self, request):
        return self._with_policy(await self.get_response(request))

    @staticmethod
    def _with_policy(response):
        response.headers.setdefault("Content-Security-Policy", POLICY)
        return response
