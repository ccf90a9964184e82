"""Allocation rules over simulated days: caps, weights, working hours, backups."""
from collections import Counter
from datetime import datetime, timedelta

import pytest

from scrm.services.allocation import Seat, available, listing, pick, schedule_problem

MONDAY = datetime(2026, 11, 30, 0, 0)  # a Monday, local time
OFFICE = {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
WEEKEND = {"sat": [["10:00", "22:00"]], "sun": [["10:00", "22:00"]]}


def simulate(seats, *, days=1, per_hour=6, start=MONDAY):
    """Customers arrive every 10 minutes around the clock; each is given to pick(); counts reset at midnight."""
    served, per_day = Counter(), []
    for day in range(days):
        counts = Counter()
        for minute in range(0, 24 * 60, 60 // per_hour):
            moment = start + timedelta(days=day, minutes=minute)
            seat = pick(seats, counts, moment)
            counts[seat.employee_id] += 1
            served[(seat.employee_id, moment.strftime("%a %H"))] += 1
        per_day.append(dict(counts))
    return per_day, served


def test_round_robin_shares_evenly_and_every_day_starts_afresh():
    seats = [Seat(n, f"u{n}", position=n) for n in (1, 2, 3)]
    per_day, _ = simulate(seats, days=3)
    assert per_day == [{1: 48, 2: 48, 3: 48}] * 3


def test_weights_split_in_proportion():
    seats = [Seat(1, "a", weight=3, position=0), Seat(2, "b", weight=1, position=1)]
    (counts,), _ = simulate(seats)
    assert counts == {1: 108, 2: 36}


def test_a_daily_cap_stops_a_member_until_midnight_and_the_others_take_over():
    seats = [Seat(1, "a", daily_cap=10, position=0), Seat(2, "b", position=1)]
    per_day, _ = simulate(seats, days=2)
    assert [d[1] for d in per_day] == [10, 10]
    assert [d[2] for d in per_day] == [134, 134]


def test_when_every_member_is_capped_the_backup_takes_the_rest():
    seats = [Seat(1, "a", daily_cap=5), Seat(2, "b", daily_cap=5, position=1), Seat(9, "z", backup=True, position=2)]
    (counts,), _ = simulate(seats)
    assert counts == {1: 5, 2: 5, 9: 134}


def test_working_hours_per_weekday_and_the_backup_outside_them():
    seats = [Seat(1, "office", schedule=OFFICE), Seat(2, "weekend", schedule=WEEKEND, position=1),
             Seat(9, "night", backup=True, position=2)]
    _, served = simulate(seats, days=7)
    by_employee = {emp: {slot for (e, slot) in served if e == emp} for emp in (1, 2, 9)}
    assert by_employee[1] == {f"{d} {h:02d}" for d in ("Mon", "Tue", "Wed", "Thu", "Fri") for h in range(9, 18)}
    assert by_employee[2] == {f"{d} {h:02d}" for d in ("Sat", "Sun") for h in range(10, 22)}
    assert all(slot not in by_employee[1] | by_employee[2] for slot in by_employee[9])
    assert "Mon 03" in by_employee[9] and "Sat 23" in by_employee[9]


def test_nobody_on_duty_and_no_backup_still_serves_the_customer():
    seats = [Seat(1, "a", schedule=OFFICE), Seat(2, "b", schedule=OFFICE, position=1)]
    night = MONDAY.replace(hour=2)
    assert {s.employee_id for s in available(seats, {}, night)} == {1, 2}


def test_a_backup_is_only_used_when_no_member_can_take_the_customer():
    seats = [Seat(1, "a"), Seat(9, "z", backup=True, position=1)]
    (counts,), _ = simulate(seats)
    assert counts == {1: 144}


def test_the_wecom_listing_drops_capped_members_and_keeps_weights_within_the_slack():
    seats = [Seat(1, "a", daily_cap=3), Seat(2, "b", position=1), Seat(3, "c", weight=2, position=2)]
    noon = MONDAY.replace(hour=12)
    assert [s.host_id for s in listing(seats, {}, noon, "round_robin")] == ["a", "b", "c"]
    assert [s.host_id for s in listing(seats, {1: 3}, noon, "round_robin")] == ["b", "c"]
    # weighted: b has 4 against c's 2 (load 4 vs 1): b rests until c catches up
    assert [s.host_id for s in listing(seats, {1: 3, 2: 4, 3: 2}, noon, "weighted")] == ["c"]
    assert [s.host_id for s in listing(seats, {1: 3, 2: 4, 3: 6}, noon, "weighted")] == ["b", "c"]


@pytest.mark.parametrize("schedule, problem", [
    ({"monday": [["09:00", "18:00"]]}, "unknown weekday"),
    ({"mon": [["9:00", "18:00"]]}, "HH:MM"),
    ({"mon": [["18:00", "09:00"]]}, "is not before"),
    ({"mon": "09:00-18:00"}, "list"),
    (["mon"], "object"),
])
def test_malformed_schedules_are_named(schedule, problem):
    assert problem in schedule_problem(schedule)


def test_a_schedule_may_run_to_midnight():
    assert schedule_problem({"fri": [["18:00", "24:00"]]}) is None
    late = Seat(1, "a", schedule={"fri": [["18:00", "24:00"]]})
    assert available([late], {}, datetime(2026, 12, 4, 23, 59)) == [late]
