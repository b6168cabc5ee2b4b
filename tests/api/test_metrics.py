"""HTTP metrics keep a bounded label set, whatever methods and paths clients send."""

from __future__ import annotations

import random
import re
import string

import httpx

from api.metrics import METHODS, OTHER_METHOD, UNMATCHED

_SERIES = re.compile(r'^einvoice_http_requests_total\{method="([^"]*)",route="([^"]*)",status="')


async def _series(http: httpx.AsyncClient) -> set[tuple[str, str, str]]:
    text = (await http.get("/metrics")).text
    return {
        (match.group(1), match.group(2), line)
        for line in text.splitlines()
        if (match := _SERIES.match(line))
    }


def _labels(series: set[tuple[str, str, str]]) -> set[str]:
    return {line.rsplit(" ", 1)[0] for _, _, line in series}


async def test_random_methods_and_paths_add_only_a_few_series(http: httpx.AsyncClient) -> None:
    rng = random.Random(14)
    await http.get("/metrics")  # the scrape's own series exists before we count
    before = _labels(await _series(http))

    for index in range(50):
        method = "".join(rng.choices(string.ascii_uppercase, k=rng.randint(3, 12)))
        word = "".join(rng.choices(string.ascii_lowercase + string.digits, k=12))
        # Every fifth on a real route: the route's template with a method it does not allow.
        path = "/healthz" if index % 5 == 0 else f"/{word}/{index}"
        await http.request(method, path)

    after = await _series(http)
    added = _labels(after) - before

    assert {method for method, _, _ in after} <= METHODS | {OTHER_METHOD}
    assert {route for _, route, _ in after if not route.startswith("/")} <= {UNMATCHED}
    # other x {<unmatched>: 404, /healthz: 405}, whatever ran before in this session.
    assert len(added) <= 2, added
