"""The colours of tags and stages, checked by one rule. Pages print them into class names
(`tag-red`) and style attributes (`--stage: #16a34a`), where anything else would be markup
or CSS of the sender's choosing.

The rule is on the models' fields (`Tag.colour`, `Stage.colour`), the API's schemas
(`schema_type`), the services (`allows`, refused with `unknown_colour`) and the pages, which
print a model's `safe_colour`: a row saved before the rule existed shows the default colour.
"""

import re
from collections.abc import Iterable
from typing import Annotated

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext
from pydantic import AfterValidator, WithJsonSchema

# CSS's hex colours: #rgb, #rgba, #rrggbb, #rrggbbaa.
HEX_COLOUR = re.compile(r"#(?:[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})")


def unknown_colour(value) -> str:
    return gettext("Unknown colour: %(colour)s.") % {"colour": value}


@deconstructible
class ColourValidator:
    """A colour a page may print: one of `palette`'s names when it has one (a tag's), else a
    hex colour, "#16a34a" or "#0a0" (a stage's)."""

    def __init__(self, palette: Iterable[str] = ()):
        self.palette = tuple(palette)

    def allows(self, value) -> bool:
        if not isinstance(value, str):
            return False
        if self.palette:
            return value in self.palette
        return HEX_COLOUR.fullmatch(value) is not None

    def __call__(self, value) -> None:
        if not self.allows(value):
            raise ValidationError(unknown_colour(value), code="colour")

    def __eq__(self, other) -> bool:
        return isinstance(other, ColourValidator) and self.palette == other.palette

    def __hash__(self) -> int:
        return hash(self.palette)

    def safe(self, value, default: str) -> str:
        """The value when it is allowed, else `default`: what a page prints."""
        return value if self.allows(value) else default

    def schema_type(self):
        """An API schema's colour field: a string this allows, else a 422 naming the field."""

        def check(value: str) -> str:
            if not self.allows(value):
                raise ValueError(unknown_colour(value))
            return value

        # Said in the OpenAPI too, so a client (or a fuzzer) knows which strings are colours.
        if self.palette:
            described = WithJsonSchema({"type": "string", "enum": list(self.palette)})
        else:
            described = WithJsonSchema({"type": "string", "pattern": f"^{HEX_COLOUR.pattern}$"})
        return Annotated[str, AfterValidator(check), described]
