"""The Accept header picks JSON, XML or the HTML view; JSON is the default and wins ties."""

from __future__ import annotations

import pytest

from api.negotiation import Representation, representation

# What Chromium and Firefox send when a person opens a URL.
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        ("", "json"),
        ("*/*", "json"),
        ("application/json", "json"),
        ("image/png", "json"),  # names none of them: the default
        ("application/xml", "xml"),
        ("text/html", "html"),
        ("TEXT/HTML; charset=utf-8", "html"),
        (BROWSER, "html"),
        ("application/json, text/html", "json"),  # a tie: JSON
        ("text/html, application/xml", "xml"),  # a tie: XML before HTML
        ("text/html, application/json;q=0.9", "html"),
        ("text/html;q=0.5, */*", "json"),
        ("text/html;q=0", "json"),
        ("text/html;q=nonsense", "json"),
        ("text/html;q=2", "json"),  # a weight above 1 is unreadable
        ("text/html;q=nan", "json"),
        ("application/xml;q=0.9, text/html;q=0.8", "xml"),
    ],
)
def test_accept_picks_the_highest_ranked_representation(
    accept: str, chosen: Representation
) -> None:
    assert representation(accept) == chosen
