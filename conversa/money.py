"""Money as people read it: an amount in a currency, grouped and with the decimal mark of the
reader's language ("R$ 1.234,56" in Portuguese, "R$1,234.56" in English)."""

from decimal import Decimal

from django.utils.formats import number_format
from django.utils.translation import get_language

# Each currency's symbol where it differs by language (the dollar is "US$" in Brazil).
SYMBOLS = {
    "BRL": {"": "R$"},
    "USD": {"pt-br": "US$", "": "$"},
    "EUR": {"": "€"},
    "GBP": {"": "£"},
    "ARS": {"": "AR$"},
    "MXN": {"": "MX$"},
}
CURRENCIES = sorted(SYMBOLS)


def money(value, currency: str = "BRL") -> str:
    """`value` (a deal's, never negative) in `currency`, grouped and with the decimal mark of the active language, its
    cents shown only when there are some: "R$ 1.234,56" and "R$ 990" in Portuguese,
    "R$1,234.56" in English (as the browsers' Intl.NumberFormat writes them)."""
    language = (get_language() or "en").lower()
    amount = Decimal(value or 0).quantize(Decimal("0.01"))
    places = 0 if amount == amount.to_integral_value() else 2
    digits = number_format(amount, places, use_l10n=True, force_grouping=True)
    symbols = SYMBOLS.get(currency, {"": currency})
    symbol = symbols.get(language, symbols[""])
    # Portuguese puts a no-break space between symbol and amount; English none.
    return f"{symbol}\u00a0{digits}" if language.startswith("pt") else f"{symbol}{digits}"
