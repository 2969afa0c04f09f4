"""Business hours in the tenant's time zone, across daylight-saving changes and holidays."""

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from apps.routing.hours import Schedule

WARSAW = ZoneInfo("Europe/Warsaw")
WEEKDAYS_9_TO_17 = {d: [(time(9), time(17))] for d in range(5)}


def schedule(**extra):
    return Schedule(
        time_zone="Europe/Warsaw",
        enabled=True,
        weekly=extra.get("weekly", WEEKDAYS_9_TO_17),
        holidays=frozenset(extra.get("holidays", ())),
    )


def warsaw(*args):
    return datetime(*args, tzinfo=WARSAW)


def test_open_follows_local_wall_clock_time_in_summer_and_winter():
    s = schedule()
    assert s.is_open(warsaw(2026, 7, 1, 9, 0))  # 07:00 UTC in summer
    assert not s.is_open(warsaw(2026, 7, 1, 8, 59))
    assert s.is_open(warsaw(2026, 12, 2, 9, 0))  # 08:00 UTC in winter
    assert not s.is_open(warsaw(2026, 12, 2, 17, 0))
    assert not s.is_open(warsaw(2026, 12, 5, 12, 0))  # Saturday


def test_holidays_are_closed():
    assert not schedule(holidays=[date(2026, 12, 24)]).is_open(warsaw(2026, 12, 24, 12, 0))


def test_a_target_counts_only_open_time_and_skips_the_night():
    # 30 minutes before closing + 90 minutes of a two-hour target the next morning.
    due = schedule().add_business_seconds(warsaw(2026, 12, 1, 16, 30), 2 * 3600)
    assert due == warsaw(2026, 12, 2, 10, 30)


def test_a_target_across_the_spring_dst_change_is_in_real_hours():
    # Friday 27 March 2026 16:00 + 2 business hours: 1 h on Friday, then Monday 30 March 09:00 + 1 h
    # (the clocks went forward on Sunday 29 March; Monday's 10:00 is 08:00 UTC, not 09:00).
    due = schedule().add_business_seconds(warsaw(2026, 3, 27, 16, 0), 2 * 3600)
    assert due.astimezone(UTC) == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)


def test_a_night_shift_across_the_autumn_dst_change_lasts_one_hour_longer():
    # Open 00:00-06:00 on Sunday 25 October 2026, the night the clocks go back: 7 real hours.
    s = Schedule(time_zone="Europe/Warsaw", enabled=True, weekly={6: [(time(0), time(6))]}, holidays=frozenset())
    start = warsaw(2026, 10, 25, 0, 0)
    end = warsaw(2026, 10, 25, 6, 0)
    assert s.business_seconds_between(start, end) == 7 * 3600


def test_a_closed_schedule_never_reaches_a_target_and_a_disabled_one_is_always_open():
    closed = Schedule(time_zone="UTC", enabled=True, weekly={}, holidays=frozenset())
    assert closed.add_business_seconds(warsaw(2026, 1, 1, 0, 0), 60) is None
    always = Schedule(time_zone="UTC", enabled=False, weekly={}, holidays=frozenset())
    assert always.is_open(warsaw(2026, 1, 1, 3, 0))


def test_closing_at_midnight_means_the_end_of_the_day():
    s = Schedule(time_zone="Europe/Warsaw", enabled=True, weekly={0: [(time(20), time(0))]}, holidays=frozenset())
    assert s.is_open(warsaw(2026, 11, 30, 23, 59))
    assert not s.is_open(warsaw(2026, 12, 1, 0, 0))


def test_outside_business_hours_the_widget_follows_the_offline_behaviour(client, tenant, operator):
    from django.urls import reverse
    from django_scopes import scopes_disabled

    from apps.routing.models import RoutingSettings, WeeklyHours

    url = reverse("widget:config", args=[tenant.widget_key])
    assert client.get(url).json()["online"] is True
    with scopes_disabled():
        RoutingSettings.objects.create(tenant=tenant, business_hours_enabled=True)
    assert client.get(url).json()["online"] is False  # no opening hours at all: closed
    with scopes_disabled():
        for weekday in range(7):
            WeeklyHours.objects.create(tenant=tenant, weekday=weekday, opens=time(0), closes=time(0))
    assert client.get(url).json()["online"] is True  # open around the clock
