"""How long requests take, by route: a Prometheus histogram (served at /metrics).

The route is the URL pattern's name (`inbox`, `api-1.0.0:list_conversations`), or the pattern
itself for an unnamed one, never the path: ids and keys in paths would make a series per
conversation. A request no pattern matched is `unmatched`; webhook POSTs, answered by the ASGI
front door ahead of Django, are `webhook` like the Django view that also serves them.
"""

import time

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from prometheus_client import Histogram

request_seconds = Histogram(
    "conversa_http_request_duration_seconds",
    "Time to answer an HTTP request, by route, method and status class",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


def observe(route: str, method: str, status: int, seconds: float) -> None:
    method = method if method in METHODS else "other"
    request_seconds.labels(route, method, f"{status // 100}xx").observe(seconds)


def route_of(request) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"
    return match.view_name if match.url_name else match.route or "unmatched"


class RequestMetricsMiddleware:
    """Times every request through Django, outermost so the other middlewares count too.
    Sync and async alike, so it adds no thread hop under ASGI."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self.__acall__(request)
        started = time.perf_counter()
        response = self.get_response(request)
        observe(route_of(request), request.method, response.status_code, elapsed(started))
        return response

    async def __acall__(self, request):
        started = time.perf_counter()
        response = await self.get_response(request)
        observe(route_of(request), request.method, response.status_code, elapsed(started))
        return response


def elapsed(started: float) -> float:
    return time.perf_counter() - started
