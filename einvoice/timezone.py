"""Vietnam's time zone, GMT+7 all year (no daylight saving): invoice days, key validity days,
the seller's month and retention all count in it."""

from __future__ import annotations

import datetime as dt

VIETNAM = dt.timezone(dt.timedelta(hours=7), "GMT+7")
