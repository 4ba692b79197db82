"""The OpenAPI names each request and answer schema by its class name: two routers with a class
of the same name share one entry, and one operation is then documented (and fuzzed) with the
other's fields. Every schema class behind the API has a name of its own."""

import sys
from collections import defaultdict

from pydantic import BaseModel

from conversa.api import api


def test_no_two_api_schemas_share_a_name():
    api.get_openapi_schema()  # imports every router
    owners = defaultdict(set)
    for name, module in list(sys.modules.items()):
        if not name.startswith("conversa.") or module is None:
            continue
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, BaseModel)
                and value.__module__ == name
            ):
                owners[value.__name__].add(name)
    shared = {cls: sorted(mods) for cls, mods in owners.items() if len(mods) > 1}
    assert not shared, f"schema classes named alike in several modules: {shared}"
