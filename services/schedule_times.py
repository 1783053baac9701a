"""When a schedule fires: pure computation of fire times, in the schedule's own time zone.

Cron expressions are read in local wall time (what a person means by "every day at 02:30 in
New York") and only then turned into UTC instants, so daylight saving is decided here, once:

- a wall time inside a spring-forward gap (02:30 on a day that jumps from 02:00 to 03:00) does
  not exist; it fires at the first valid instant after it, the end of the gap (03:00 new time);
  several gap times collapse into that one instant;
- a wall time inside a repeated hour (01:30 on a day that falls back from 02:00 to 01:00)
  exists twice; it fires once, at its first occurrence (`fold=0`).

Intervals are fixed lengths of real time (UTC arithmetic), one-off schedules fire at one
instant. Nothing here touches the database, so the tick, the editor's preview and the tests
all use the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from agent_platform.models import ScheduleKind

MIN_INTERVAL_SECONDS = 60
MAX_INTERVAL_SECONDS = 366 * 86_400
# A cron expression that matches nothing for this many steps (e.g. 30 February) never fires.
_MAX_STEPS = 2_000


@dataclass(frozen=True)
class TimeSpec:
    """What decides the fire times of a schedule (a `Schedule` row has these fields)."""

    kind: ScheduleKind
    timezone: str = "UTC"
    cron: str = ""
    interval_seconds: int | None = None
    run_at: datetime | None = None


def zone(name: str) -> ZoneInfo:
    """The IANA time zone `name`; ValueError in words when there is none of that name."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"Unknown time zone {name!r}; use a name such as Europe/Berlin.") from exc


def cron_problem(expression: str) -> str | None:
    """Why a cron expression is refused, or None: five fields (minute hour day month weekday)."""
    fields = expression.split()
    if len(fields) != 5:
        return "A cron expression has five fields: minute hour day-of-month month day-of-week."
    if not croniter.is_valid(expression):
        return f"{expression!r} is not a valid cron expression."
    return None


def as_utc(moment: datetime) -> datetime:
    """Aware UTC; a naive value is taken as UTC already (how the database returns it)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def wall_to_utc(wall: datetime, tz: ZoneInfo) -> datetime:
    """The instant a naive local wall time means: a gap moves to its end, a repeat fires first."""
    first = wall.replace(tzinfo=tz, fold=0)
    instant = first.astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) == wall:
        return instant  # exists (for a repeated time, fold=0 is its first occurrence)
    # In a gap: fold=1 reads it with the offset before the jump (an instant before the gap),
    # fold=0 with the offset after it (an instant after the gap); the jump lies in between.
    low = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    high = instant
    if low > high:
        low, high = high, low
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(tz).utcoffset() == low.astimezone(tz).utcoffset():
            low = middle
        else:
            high = middle
    return high.replace(microsecond=0)


def _cron_after(expression: str, tz: ZoneInfo, after: datetime) -> datetime | None:
    """The first cron instant strictly after `after` (aware)."""
    wall = as_utc(after).astimezone(tz).replace(tzinfo=None)
    # From the wall time on: in the second pass of a repeated hour the next wall times read as
    # their first pass (earlier instants, already fired) and are passed over by the check below.
    it = croniter(expression, wall)
    for _ in range(_MAX_STEPS):
        candidate = wall_to_utc(it.get_next(datetime), tz)
        if candidate > as_utc(after):
            return candidate
    return None


def following(spec: TimeSpec, fire_at: datetime) -> datetime | None:
    """The next fire time after the one at `fire_at` (or after any instant): None for no more."""
    after = as_utc(fire_at)
    if spec.kind == ScheduleKind.CRON:
        return _cron_after(spec.cron, zone(spec.timezone), after)
    if spec.kind == ScheduleKind.INTERVAL:
        if not spec.interval_seconds:
            return None
        return after + timedelta(seconds=spec.interval_seconds)
    if spec.kind == ScheduleKind.ONCE:
        if spec.run_at is not None and as_utc(spec.run_at) > after:
            return as_utc(spec.run_at)
        return None
    raise AssertionError(spec.kind)


def first_fire(spec: TimeSpec, now: datetime) -> datetime | None:
    """When a new (or resumed) schedule fires first, seen at `now`.

    An interval starts one interval from now, on a whole second (the scheduler ticks just
    after each second); a one-off time already past never fires."""
    return following(spec, as_utc(now).replace(microsecond=0))


def due_times(
    spec: TimeSpec, next_fire_at: datetime, now: datetime, *, limit: int = 1_000
) -> list[datetime]:
    """Every fire time from `next_fire_at` up to `now` (inclusive), oldest first, at most `limit`
    (downtime of a frequent schedule could otherwise mean millions)."""
    times: list[datetime] = []
    moment: datetime | None = as_utc(next_fire_at)
    end = as_utc(now)
    while moment is not None and moment <= end and len(times) < limit:
        times.append(moment)
        moment = following(spec, moment)
    return times


def upcoming(spec: TimeSpec, first: datetime | None, count: int = 5) -> list[datetime]:
    """`count` fire times from the fire time `first` on (the schedule's `next_fire_at`)."""
    times: list[datetime] = []
    moment = as_utc(first) if first is not None else None
    while moment is not None and len(times) < count:
        times.append(moment)
        moment = following(spec, moment)
    return times
