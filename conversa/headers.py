"""The Content-Security-Policy (django-csp), with the one part that depends on the request:
the WebSocket's own address in connect-src.

The policy (settings.CONTENT_SECURITY_POLICY) allows scripts from this site only, and inline
ones only with the request's nonce (`request.csp_nonce`: no page needs one today); no `eval`,
so htmx runs with `allowEval` off (its trigger filters and hx-on are not used; static JS wires
behaviour by data attributes). `'self'` covers same-host ws:/wss: in browsers that follow
CSP 3, not in older Safari: the socket's exact origin is added per request.
"""

import weakref

from csp.middleware import CheckableLazyObject, CSPMiddleware, PolicyParts
from django.core.exceptions import DisallowedHost


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    def process_request(self, request) -> None:
        # django-csp's lazy nonce holds the request, which holds it: a reference cycle that
        # only a full collection frees (tests/test_asgi.py). A weak reference breaks it.
        request_ref = weakref.ref(request)
        request.csp_nonce = CheckableLazyObject(lambda: self._make_nonce(request_ref()))

    def get_policy_parts(self, request, response, report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        try:
            host = request.get_host()
        except DisallowedHost:
            return parts
        socket = f"{'wss' if request.is_secure() else 'ws'}://{host}"
        parts.update = {**(parts.update or {}), "connect-src": [socket]}
        return parts

    def process_response(self, request, response):
        response = super().process_response(request, response)
        # After the header is written django-csp leaves a lazy object that raises when touched
        # (even by isinstance, as the garbage collector's inspection does). A plain value is
        # as safe: a nonce asked for now ("" if none was) is not in the header, so refused.
        request.csp_nonce = getattr(request, "_csp_nonce", None) or ""
        return response
