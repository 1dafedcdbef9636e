"""The pure plan: slots × rotation × one-offs, with a fixed `now` (no clock)."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from broadcast.config_sections import Slot
from broadcast.schedule import Candidate, OneOff, State, occurrences, pick, plan, slot_airings

TZ = ZoneInfo("Asia/Shanghai")
VILLAGES = ["青石村", "东岭村", "西河村"]
EVERY_DAY = tuple(range(7))


def slot(hh: int, mm: int = 0, *, days=EVERY_DAY, villages="all", n=1, name="") -> Slot:
    return Slot(time=time(hh, mm), days=days, villages=villages, programmes=n, name=name)


def cand(
    entry_id: int,
    *,
    times=None,
    completed=0,
    date_from=None,
    date_until=None,
    villages="all",
    programme=True,
) -> Candidate:
    return Candidate(
        entry_id=entry_id,
        position=entry_id,
        script_id=entry_id * 10,
        title=f"稿件{entry_id}",
        topic="普法",
        times=times,
        completed=completed,
        date_from=date_from,
        date_until=date_until,
        villages=villages,
        programme_id=entry_id * 100 if programme else None,
    )


def at(d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(2026, 12, d, hh, mm, tzinfo=TZ)


def titles(items) -> list[tuple[str, str | None]]:
    return [(p.at.strftime("%d %H:%M"), p.title) for p in items]


def test_rotation_across_several_days_continues_where_it_stopped():
    state = State((cand(1), cand(2), cand(3)), (), last_entry_id=2)
    slots = [slot(7), slot(12), slot(18, 30)]
    items = plan(state, slots, at(1, 8), at(3, 13), TZ, VILLAGES)
    assert titles(items) == [
        ("01 12:00", "稿件3"),
        ("01 18:30", "稿件1"),
        ("02 07:00", "稿件2"),
        ("02 12:00", "稿件3"),
        ("02 18:30", "稿件1"),
        ("03 07:00", "稿件2"),
        ("03 12:00", "稿件3"),
    ]


def test_times_dates_programme_and_villages_are_respected():
    state = State(
        (
            cand(1, times=2, completed=1),  # one airing left
            cand(2, date_from=date(2026, 12, 2)),  # not before the 2nd
            cand(3, programme=False),  # no programme yet: skipped
            cand(4, villages=("东岭村",)),  # only where the slot covers 东岭村
        ),
        (),
        None,
    )
    slots = [slot(7, villages=("青石村", "东岭村")), slot(12, villages=("青石村",))]
    items = plan(state, slots, at(1, 0), at(2, 23), TZ, VILLAGES)
    assert titles(items) == [
        ("01 07:00", "稿件1"),  # then retired: times used up
        ("01 12:00", None),  # 稿件4 is not for 青石村 only; nothing else airs on the 1st
        ("02 07:00", "稿件2"),
        ("02 12:00", "稿件2"),
    ]
    assert items[0].villages == ("青石村", "东岭村")
    items4 = plan(
        State((cand(4, villages=("东岭村",)),), (), None), slots, at(1, 0), at(1, 8), TZ, VILLAGES
    )
    assert items4[0].villages == ("东岭村",)  # entry ∩ slot


def test_several_programmes_per_slot_get_distinct_keys():
    state = State((cand(1), cand(2), cand(3)), (), None)
    made = slot_airings(state, slot(7, n=2), at(1, 7), VILLAGES)
    assert [(p.key, p.title) for p in made] == [
        ("slot:07:00:00#1", "稿件1"),
        ("slot:07:00:00#2", "稿件2"),
    ]


def test_weekday_slots_and_one_offs_merge_in_time_order():
    # 2026-12-05 is a Saturday
    one = OneOff(
        id=7,
        at=at(5, 9),
        script_id=1,
        title="宪法日特别节目",
        topic="宪法",
        programme_id=5,
        villages=("西河村",),
    )
    state = State((cand(1),), (one,), None)
    items = plan(state, [slot(7, days=(0, 1, 2, 3, 4))], at(4, 0), at(7, 8), TZ, VILLAGES)
    assert [(p.at.strftime("%a %H:%M"), p.key, p.title, p.villages) for p in items] == [
        ("Fri 07:00", "slot:07:00:00#1", "稿件1", tuple(VILLAGES)),
        ("Sat 09:00", "oneoff:7", "宪法日特别节目", ("西河村",)),
        ("Mon 07:00", "slot:07:00:00#1", "稿件1", tuple(VILLAGES)),
    ]


def test_occurrences_use_the_station_timezone():
    occ = occurrences(
        [slot(7)],
        datetime(2026, 12, 1, 0, 0, tzinfo=ZoneInfo("UTC")),
        datetime(2026, 12, 2, 0, 0, tzinfo=ZoneInfo("UTC")),
        TZ,
    )
    assert [a.isoformat() for _, a in occ] == ["2026-12-02T07:00:00+08:00"]


def test_rotation_goes_on_after_a_removed_entry():
    """A, B, C, D with C aired last; C removed (D moved up to position 3): D is next."""
    a, b = cand(1), cand(2)
    d = Candidate(**{**cand(4).__dict__, "position": 3})
    day = date(2026, 12, 1)
    assert [c.entry_id for c in pick([a, b, d], 3, 1, day, "all", VILLAGES, 3)] == [4]
    # C was the last entry: the rotation wraps round to A
    assert [c.entry_id for c in pick([a, b], 3, 1, day, "all", VILLAGES, 3)] == [1]
    # no position known (nothing aired yet): from the top
    assert [c.entry_id for c in pick([a, b], None, 1, day, "all", VILLAGES)] == [1]
