"""Bounded types for what the API reads from outside: an id is a positive 64-bit key, pages
and offsets are capped, so an out-of-range number is a 422 naming it, never a database error.
(Pages read numbers with `conversa.web.number`.)"""

from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, Field, WithJsonSchema

# The largest key a database row can have (a signed 64-bit integer).
MAX_ID = 2**63 - 1
# How far into a list an offset may reach, and the longest page.
MAX_OFFSET = 1_000_000
MAX_LIMIT = 200

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
# An id, or 0 for "none" where a filter says so (a lead with no owner).
IdOrZero = Annotated[int, Field(ge=0, le=MAX_ID)]
Offset = Annotated[int, Field(ge=0, le=MAX_OFFSET)]
# An amount of money as a lead's value holds it (12 digits, 2 after the point), given as a
# number or a string of digits.
Money = Annotated[
    Decimal,
    Field(ge=0, lt=Decimal("1e10")),
    # Cents, as the column keeps them: 10.005 is 10.01, not a refusal.
    AfterValidator(lambda value: value.quantize(Decimal("0.01"))),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": 9999999999},
                {"type": "string", "pattern": r"^[0-9]{1,10}(\.[0-9]{1,6})?$"},
            ]
        }
    ),
]
