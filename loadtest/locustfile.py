"""Locust users for the three kinds of people, over the demo registry (`scripts/stack demo seed`).

    locust -f loadtest/locustfile.py --host http://127.0.0.1:8000

- BusinessUser: a business's software submitting real-time invoices (POST /v1/invoices).
- AccountingSoftware: bulk submissions (POST /v1/batches of 100-1,000 lines) and their status.
- LookupUser: buyers and officers looking invoices up, and the public check (POST /v1/verify).

Data: sellers drawn with skewed weights (a few very large, many small), 1-200 lines per invoice
with most under 10, Vietnamese goods and addresses, about 3 % invalid and 2 % repeated invoices.
The registry comes from EINVOICE_LOADTEST_REGISTRY (default demo/registry.json).

With EINVOICE_LOADTEST_REPLAY_S set, AnnualShape replays a year compressed into that many seconds,
following loadtest/profile.py, its national peak scaled to EINVOICE_LOADTEST_CAPACITY users.
"""

from __future__ import annotations

import os
import random
from collections import deque
from pathlib import Path
from typing import Any

import locust.stats
import orjson
from locust import HttpUser, LoadTestShape, between, task

from loadtest.demo_data import DemoRegistry, printed_fields
from loadtest.profile import AnnualProfile, peak_rate

REGISTRY = Path(os.environ.get("EINVOICE_LOADTEST_REGISTRY", "demo/registry.json"))
# `einvoice loadtest run` prints progress from the CSV history, which locust flushes every 5 s by
# default: every 2 s keeps the progress line close to what is happening.
locust.stats.CSV_STATS_FLUSH_INTERVAL_SEC = 2
INVALID_SHARE = 0.03
REPEAT_SHARE = 0.02


class Registry(DemoRegistry):
    """The demo registry, and the invoices authenticated so far (for lookups and repeats)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.recent: deque[tuple[str, dict[str, Any]]] = deque(maxlen=2000)
        self.recent_by_seller: dict[str, deque[dict[str, Any]]] = {
            s["tax_code"]: deque(maxlen=200) for s in self.sellers
        }

    def submission(self, seller: dict[str, Any]) -> dict[str, Any]:
        """A signed submission of `seller`: usually new, sometimes invalid, sometimes a repeat."""
        own = self.recent_by_seller[seller["tax_code"]]
        if own and random.random() < REPEAT_SHARE:
            return random.choice(own)
        return self.new_submission(seller, invalid=random.random() < INVALID_SHARE)


def error_code(response: Any) -> str:
    """`<status> <CODE>` of a failed answer: the report groups errors by stable code."""
    try:
        return f"{response.status_code} {response.json()['errors'][0]['code']}"
    except (ValueError, KeyError, IndexError, TypeError):
        return f"{response.status_code} (no error code)"


def expect(response: Any, *statuses: int) -> None:
    if response.status_code in statuses:
        response.success()
    else:
        response.failure(error_code(response))


_registry: Registry | None = None


def registry() -> Registry:
    global _registry
    if _registry is None:
        _registry = Registry(REGISTRY)
    return _registry


class BusinessUser(HttpUser):
    weight = 3
    wait_time = between(0.05, 0.5)

    @task
    def submit(self) -> None:
        data = registry()
        seller = data.seller()
        submission = data.submission(seller)
        with self.client.post(
            "/v1/invoices",
            data=orjson.dumps(submission),
            headers={
                "Authorization": f"Bearer {seller['api_key']}",
                "Content-Type": "application/json",
            },
            name="POST /v1/invoices",
            catch_response=True,
        ) as response:
            if response.status_code in (200, 201):
                data.recent.append((response.json()["code"], submission))
                data.recent_by_seller[seller["tax_code"]].append(submission)
                response.success()
            elif (
                response.status_code == 422
                and submission["invoice"]["totals"]["total_payable"] == "1"
            ):
                response.success()  # invalid on purpose: the service reported it properly
            else:
                response.failure(f"{response.status_code}: {response.text[:200]}")


class AccountingSoftware(HttpUser):
    weight = 1
    wait_time = between(2, 10)

    @task
    def submit_batch(self) -> None:
        data = registry()
        seller = data.seller()
        lines = [data.submission(seller) for _ in range(random.randint(100, 1000))]
        body = b"\n".join(orjson.dumps(line) for line in lines)
        headers = {"Authorization": f"Bearer {seller['api_key']}"}
        response = self.client.post(
            "/v1/batches",
            data=body,
            headers={**headers, "Content-Type": "application/x-ndjson"},
            name="POST /v1/batches",
        )
        if response.status_code == 202:
            self.client.get(
                response.headers["Location"], headers=headers, name="GET /v1/batches/{id}"
            )


class LookupUser(HttpUser):
    # Lookups against submissions: EINVOICE_LOADTEST_LOOKUP_WEIGHT (businesses weigh 3, batches 1).
    weight = int(os.environ.get("EINVOICE_LOADTEST_LOOKUP_WEIGHT", "2"))
    wait_time = between(0.05, 0.5)

    @task(3)
    def by_code(self) -> None:
        data = registry()
        if not data.recent:
            return
        code, submission = random.choice(data.recent)
        seller = data.by_tax_code[submission["invoice"]["seller"]["tax_code"]]
        with self.client.get(
            f"/v1/invoices/{code}",
            headers={"Authorization": f"Bearer {seller['api_key']}"},
            name="GET /v1/invoices/{code}",
            catch_response=True,
        ) as response:
            expect(response, 200)

    @task(1)
    def public_check(self) -> None:
        data = registry()
        if not data.recent:
            return
        _, submission = random.choice(data.recent)
        with self.client.post(
            "/v1/verify",
            catch_response=True,
            json=printed_fields(submission["invoice"]),
            name="POST /v1/verify",
        ) as response:
            expect(response, 200)


if os.environ.get("EINVOICE_LOADTEST_REPLAY_S"):

    class AnnualShape(LoadTestShape):
        """A year replayed in EINVOICE_LOADTEST_REPLAY_S seconds; the national peak becomes
        EINVOICE_LOADTEST_CAPACITY users (each sends a few requests a second)."""

        replay_s = float(os.environ["EINVOICE_LOADTEST_REPLAY_S"])
        capacity = float(os.environ.get("EINVOICE_LOADTEST_CAPACITY", "50"))
        profile = AnnualProfile()
        peak = peak_rate(profile)

        def tick(self) -> tuple[int, float] | None:
            elapsed: float = self.get_run_time()  # type: ignore[no-untyped-call]
            if elapsed >= self.replay_s:
                return None
            _, national = self.profile.replay(elapsed, self.replay_s)
            users = max(1, round(national * self.capacity / self.peak))
            return users, max(1.0, users / 2)
