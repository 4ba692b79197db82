"""The ASGI entry point's own behaviour: a served request leaves no exception behind in a
reference cycle (Django ticket #36700), so what it loaded is freed when it ends, not at the
next full garbage collection."""

import asyncio
import gc

import httpx
import pytest

from conversa.asgi import application


@pytest.fixture
def garbage():
    """What the garbage collector finds unreachable meanwhile, kept for inspection."""
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield gc.garbage
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


def serve(paths: list[str]) -> list[int]:
    async def run():
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            return [(await c.get(path)).status_code for path in paths]

    return asyncio.run(run())


@pytest.mark.django_db(transaction=True)
def test_a_served_request_leaves_no_exception_in_a_cycle(garbage):
    assert serve(["/health"] * 5 + ["/api/conversations"] * 5) == [200] * 5 + [401] * 5
    gc.collect()
    caught = [type(o).__name__ for o in garbage if isinstance(o, BaseException)]
    assert caught == [], "an exception, its traceback and the request's frames wait for GC"
