"""Fire times in the schedule's own zone, across the 2026 daylight-saving transitions.

America/New_York jumps 02:00 → 03:00 on 2026-03-08 and falls back 02:00 → 01:00 on 2026-11-01;
Europe/Berlin jumps 02:00 → 03:00 on 2026-03-29 and falls back 03:00 → 02:00 on 2026-10-25.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from agent_platform.models import ScheduleKind
from services.schedule_times import (
    TimeSpec,
    cron_problem,
    due_times,
    first_fire,
    following,
    upcoming,
    zone,
)

NY = "America/New_York"
BERLIN = "Europe/Berlin"


def cron(expression: str, tz: str) -> TimeSpec:
    return TimeSpec(kind=ScheduleKind.CRON, cron=expression, timezone=tz)


def local(moments: list[datetime], tz: str) -> list[str]:
    return [m.astimezone(zone(tz)).strftime("%m-%d %H:%M%z") for m in moments]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


class TestSpringForwardGap:
    @pytest.mark.parametrize(
        ("tz", "day", "expected"),
        [
            (NY, 8, ["03-07 02:30-0500", "03-08 03:00-0400", "03-09 02:30-0400"]),
            (BERLIN, 29, ["03-28 02:30+0100", "03-29 03:00+0200", "03-30 02:30+0200"]),
        ],
    )
    def test_daily_time_in_the_gap_fires_at_the_end_of_the_gap(
        self, tz: str, day: int, expected: list[str]
    ) -> None:
        spec = cron("30 2 * * *", tz)
        first = first_fire(spec, utc(2026, 3, day - 1, 0))
        assert local(upcoming(spec, first, 3), tz) == expected

    def test_several_times_in_the_gap_fire_once_at_its_end(self) -> None:
        spec = cron("*/20 2-3 * * *", BERLIN)
        first = first_fire(spec, utc(2026, 3, 28, 23, 0))  # 00:00 local on the 29th
        assert local(upcoming(spec, first, 4), BERLIN) == [
            "03-29 03:00+0200",  # 02:00, 02:20, 02:40 do not exist: one fire at 03:00
            "03-29 03:20+0200",
            "03-29 03:40+0200",
            "03-30 02:00+0200",
        ]

    def test_the_gap_fire_is_the_first_valid_instant_after_the_missing_time(self) -> None:
        spec = cron("59 2 8 3 *", NY)
        assert following(spec, utc(2026, 3, 1)) == utc(2026, 3, 8, 7, 0)  # 03:00 EDT


class TestFallBackRepeatedHour:
    def test_time_in_the_repeated_hour_fires_once_new_york(self) -> None:
        spec = cron("30 1 * * *", NY)
        first = first_fire(spec, utc(2026, 10, 31, 12))
        times = upcoming(spec, first, 3)
        assert local(times, NY) == ["11-01 01:30-0400", "11-02 01:30-0500", "11-03 01:30-0500"]

    def test_half_hourly_through_the_repeated_hour_new_york(self) -> None:
        spec = cron("*/30 * * * *", NY)
        first = first_fire(spec, utc(2026, 11, 1, 4, 59))  # 00:59 EDT
        assert local(upcoming(spec, first, 5), NY) == [
            "11-01 01:00-0400",
            "11-01 01:30-0400",
            "11-01 02:00-0500",  # 01:00 and 01:30 EST are the same wall times: not again
            "11-01 02:30-0500",
            "11-01 03:00-0500",
        ]

    def test_time_in_the_repeated_hour_fires_once_berlin(self) -> None:
        spec = cron("15 2 * * *", BERLIN)
        first = first_fire(spec, utc(2026, 10, 24, 12))
        times = upcoming(spec, first, 3)
        assert local(times, BERLIN) == ["10-25 02:15+0200", "10-26 02:15+0100", "10-27 02:15+0100"]

    def test_asked_from_inside_the_second_pass_the_next_fire_is_after_it(self) -> None:
        spec = cron("*/15 * * * *", BERLIN)
        second_pass = utc(2026, 10, 25, 1, 20)  # 02:20 CET, the second 02:20 of the night
        assert local([following(spec, second_pass)], BERLIN) == ["10-25 03:00+0100"]

    def test_due_times_cover_a_night_without_duplicates(self) -> None:
        spec = cron("0 * * * *", NY)
        times = due_times(spec, utc(2026, 11, 1, 4), utc(2026, 11, 1, 9))
        assert len(times) == len(set(times))
        assert local(times, NY) == [
            "11-01 00:00-0400",
            "11-01 01:00-0400",
            "11-01 02:00-0500",
            "11-01 03:00-0500",
            "11-01 04:00-0500",
        ]


class TestKinds:
    def test_interval_is_real_time_across_a_transition(self) -> None:
        spec = TimeSpec(kind=ScheduleKind.INTERVAL, interval_seconds=3600, timezone=NY)
        times = upcoming(spec, utc(2026, 3, 8, 6), 3)
        assert [t - times[0] for t in times] == [
            timedelta(0),
            timedelta(hours=1),
            timedelta(hours=2),
        ]

    def test_interval_starts_on_a_whole_second(self) -> None:
        spec = TimeSpec(kind=ScheduleKind.INTERVAL, interval_seconds=60)
        now = datetime(2026, 6, 1, 12, 0, 7, 654_321, tzinfo=UTC)
        assert first_fire(spec, now) == utc(2026, 6, 1, 12, 1, 7)

    def test_once_fires_at_its_time_and_never_again(self) -> None:
        at = utc(2026, 5, 1, 12)
        spec = TimeSpec(kind=ScheduleKind.ONCE, run_at=at)
        assert first_fire(spec, utc(2026, 4, 1)) == at
        assert following(spec, at) is None
        assert first_fire(spec, utc(2026, 5, 2)) is None

    def test_cron_is_read_in_the_schedule_zone(self) -> None:
        spec = cron("0 9 * * 1-5", BERLIN)
        assert following(spec, utc(2026, 7, 1, 0)) == utc(2026, 7, 1, 7)  # 09:00 CEST

    def test_due_times_are_capped(self) -> None:
        spec = cron("* * * * *", "UTC")
        assert len(due_times(spec, utc(2026, 1, 1), utc(2026, 1, 3), limit=50)) == 50


class TestRefusals:
    @pytest.mark.parametrize("expression", ["* * * *", "* * * * * *", "61 * * * *", "x y z a b"])
    def test_bad_cron_is_refused_in_words(self, expression: str) -> None:
        problem = cron_problem(expression)
        assert problem is not None and "cron" in problem

    def test_unknown_zone_is_refused_in_words(self) -> None:
        with pytest.raises(ValueError, match="Unknown time zone 'Mars/Base'"):
            zone("Mars/Base")
