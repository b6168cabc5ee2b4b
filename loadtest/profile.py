"""The annual volume profile: how many invoices a second the country sends at each moment of a
year, and a compressed replay of it.

National scale (docs/loadtest.md): 8 billion invoices a year, 10 % in real time. The shape is a
product of weights, each averaging 1 over its period, normalised so the year sums to the annual
volume:
- hour of day (Vietnam time): night trough, office-hours plateau, an evening tail of e-commerce;
- day of week: weekdays busy, Saturday half, Sunday a fifth;
- month end: the last three days of a month at 2.5x (monthly invoicing and declarations);
- Tet: the seven days before the lunar new year at 2x, the holiday week itself at 0.15x.
The peak hour comes to about 7x the average (about 1,800 invoices/s nationally), near the
roughly 10x that national systems report.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

from einvoice.timezone import VIETNAM

SECONDS_PER_YEAR = 365 * 24 * 3600
ANNUAL_INVOICES = 8_000_000_000
REAL_TIME_SHARE = 0.10

# Invoices by hour of day in Vietnam, relative (normalised below).
_HOURS = (
    0.1, 0.06, 0.05, 0.05, 0.06, 0.15, 0.4, 1.0, 2.2, 3.0, 3.0, 2.4,
    1.0, 1.6, 2.6, 3.0, 2.6, 1.8, 1.0, 0.7, 0.6, 0.5, 0.3, 0.2,
)  # fmt: skip
_WEEKDAYS = (1.2, 1.2, 1.2, 1.2, 1.25, 0.6, 0.2)  # Monday .. Sunday
# Tet (lunar new year's day) for the years a replay may use.
TET = {
    2025: dt.date(2025, 1, 29),
    2026: dt.date(2026, 2, 17),
    2027: dt.date(2027, 2, 6),
    2028: dt.date(2028, 1, 26),
}


def _normalised(weights: tuple[float, ...]) -> tuple[float, ...]:
    mean = sum(weights) / len(weights)
    return tuple(weight / mean for weight in weights)


HOUR_WEIGHTS = _normalised(_HOURS)
WEEKDAY_WEIGHTS = _normalised(_WEEKDAYS)


def day_weight(day: dt.date) -> float:
    """The weight of a calendar day (day of week, month end, Tet), before normalisation."""
    weight = WEEKDAY_WEIGHTS[day.weekday()]
    next_month = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    if (next_month - day).days <= 3:
        weight *= 2.5
    tet = TET.get(day.year)
    if tet is not None:
        if tet - dt.timedelta(days=7) <= day < tet:
            weight *= 2.0
        elif tet <= day < tet + dt.timedelta(days=7):
            weight *= 0.15
    return weight


@dataclass(frozen=True)
class AnnualProfile:
    year: int = 2026
    annual_invoices: float = ANNUAL_INVOICES
    # Scales the day weights so the year sums to the annual volume (set after construction).
    _day_scale: float = field(init=False, default=1.0)

    def __post_init__(self) -> None:
        days = [dt.date(self.year, 1, 1) + dt.timedelta(days=n) for n in range(365)]
        total = sum(day_weight(day) for day in days)
        object.__setattr__(self, "_day_scale", 365 / total)

    def rate(self, moment: dt.datetime) -> float:
        """National invoices per second at `moment` (any time zone; Vietnam time is used)."""
        local = moment.astimezone(VIETNAM)
        average = self.annual_invoices / SECONDS_PER_YEAR
        weight = day_weight(local.date()) * self._day_scale * HOUR_WEIGHTS[local.hour]
        return average * weight

    def replay(self, at_seconds: float, replay_seconds: float) -> tuple[dt.datetime, float]:
        """The moment of the year a compressed replay is at, after `at_seconds` of a replay that
        plays the whole year in `replay_seconds`, and the national rate then."""
        fraction = min(max(at_seconds / replay_seconds, 0.0), 1.0)
        start = dt.datetime(self.year, 1, 1, tzinfo=VIETNAM)
        moment = start + dt.timedelta(seconds=fraction * SECONDS_PER_YEAR)
        return moment, self.rate(moment)


def scaled_rate(national_rate: float, capacity: float, national_peak: float) -> float:
    """A national rate mapped onto what the target holds: the national peak becomes `capacity`."""
    return national_rate * capacity / national_peak


def peak_rate(profile: AnnualProfile, step_hours: int = 1) -> float:
    start = dt.datetime(profile.year, 1, 1, tzinfo=dt.UTC)
    return max(
        profile.rate(start + dt.timedelta(hours=hour)) for hour in range(0, 365 * 24, step_hours)
    )


def yearly_total(profile: AnnualProfile) -> float:
    """The year's invoices by the profile, summed hour by hour (a check of the normalisation)."""
    start = dt.datetime(profile.year, 1, 1, tzinfo=VIETNAM)
    return math.fsum(profile.rate(start + dt.timedelta(hours=h)) * 3600 for h in range(365 * 24))
