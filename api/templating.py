"""The service's HTML: Jinja2 templates (api/templates/, shipped in the wheel) for the lookup page
and the invoice view, and the filters they share: amounts and dates as Vietnamese write them, and
QR codes drawn as inline SVG (segno).

The templates are loaded and compiled when this module is imported, that is when the app is
created, so a broken template stops the service at start-up rather than failing a request.
Autoescaping is on for every template: invoice text is the seller's, and nothing a seller or a
visitor typed is ever written into the HTML unescaped. Undefined names raise, so a template that
names a field the context lacks fails its tests instead of printing an empty cell.

Rendering runs in a worker thread: drawing a QR code of a token's URL takes about 40 ms of pure
Python (segno chooses the best of eight masks), far too long to hold the event loop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import segno
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined

from einvoice.timezone import VIETNAM


def vietnamese_amount(value: str | None) -> str:
    """A decimal string as Vietnamese write amounts: `.` between thousands, `,` before decimals
    (`1100000` -> `1.100.000`, `-1234.5` -> `-1.234,5`); anything else as it is."""
    if value is None:
        return ""
    sign, digits = ("-", value[1:]) if value.startswith("-") else ("", value)
    whole, point, fraction = digits.partition(".")
    if not whole.isascii() or not whole.isdigit() or (point and not fraction.isdigit()):
        return value
    grouped = f"{int(whole):,}".replace(",", ".")
    return f"{sign}{grouped},{fraction}" if point else f"{sign}{grouped}"


def day_month_year(iso_date: str | None) -> str:
    """`2025-06-15` as Vietnamese write dates, `15/06/2025`."""
    if not iso_date:
        return ""
    try:
        day = dt.date.fromisoformat(iso_date)
    except ValueError:
        return iso_date
    return day.strftime("%d/%m/%Y")


def vietnam_time(iso_moment: str | None) -> str:
    """An ISO 8601 moment (UTC, as documents carry them) in Vietnam's time, to the second."""
    if not iso_moment:
        return ""
    try:
        moment = dt.datetime.fromisoformat(iso_moment)
    except ValueError:
        return iso_moment
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(VIETNAM).strftime("%d/%m/%Y %H:%M:%S (GMT+7)")


@lru_cache(maxsize=256)
def qr_svg(data: str) -> str:
    """An inline SVG of a QR code of `data` (a URL): always a full QR code, never a micro one a
    phone's camera may not read; error correction M (15 %), raised by segno when the same size
    allows, so a creased or smudged print still scans. Sized by CSS (`.qr-code`). The SVG is
    segno's own markup: the template marks it safe."""
    code = segno.make_qr(data, error="m")
    svg: str = code.svg_inline(scale=1, border=4, omitsize=True, svgclass="qr-code", lineclass=None)
    return svg


def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("api", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        amount=vietnamese_amount,
        dmy=day_month_year,
        vietnam_time=vietnam_time,
        qr_svg=qr_svg,
    )
    return environment


ENVIRONMENT = _environment()
_TEMPLATES = {name: ENVIRONMENT.get_template(name) for name in ("page.html", "invoice.html")}

# No script runs on these pages and nothing is loaded from elsewhere: styles are inline, the QR
# codes are inline SVG. The page's URL may hold a token or a total: no referrer carries it away.
# An invoice view holds the buyer's details and a status that may change: never kept in a cache.
_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


async def render(
    template: str,
    context: Mapping[str, Any],
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """`template` (a name of api/templates/) rendered with `context` off the event loop."""
    html = await asyncio.to_thread(_TEMPLATES[template].render, context)
    return HTMLResponse(html, status_code=status_code, headers={**_HEADERS, **(headers or {})})
