"""The class registry: codes, the teacher's secret, versions, learner counts, bounds and expiry (an injected clock)."""

import threading

import pytest

from vitviz import classroom
from vitviz.classroom import ClassImage, Classroom, ClassState, NotTeacher, Shown, UnknownClass

STATE = ClassState(model="shapes", precision="fp32")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_code_is_the_replica_digit_and_four_unambiguous_letters(monkeypatch):
    monkeypatch.setenv(classroom.REPLICA_ENV, "3")
    room = Classroom()
    codes = {room.start(STATE)[0] for _ in range(15)}
    assert len(codes) == 15
    for code in codes:
        assert len(code) == 5 and code[0] == "3"
        assert all(ch in classroom.LETTERS for ch in code[1:])
        assert not set(code[1:]) & set("IOL")
    monkeypatch.delenv(classroom.REPLICA_ENV)
    assert Classroom().start(STATE)[0][0] == "0"  # unset: replica 0


def test_a_replica_that_is_not_one_digit_is_refused(monkeypatch):
    monkeypatch.setenv(classroom.REPLICA_ENV, "12")
    with pytest.raises(ValueError):
        Classroom().start(STATE)


def test_codes_are_read_case_insensitively_and_nonsense_is_no_code():
    assert classroom.normalise(" 0abcd ") == "0ABCD"
    assert classroom.normalise("0-ab cd") == "0ABCD"
    for bad in ("", "0ABC", "0ABCDE", "AABCD", "0ABCI", "0OBCD", "0ABL1", "💥"):
        assert classroom.normalise(bad) is None, bad


def test_the_join_link_carries_the_code():
    assert classroom.join_link("http://10.0.0.5:8501/", "0ABCD") == "http://10.0.0.5:8501/?class=0ABCD"


def test_only_the_secret_drives_a_class():
    room = Classroom(replica="0")
    code, secret = room.start(STATE)
    assert secret and secret != code and len(secret) >= 24
    for wrong in ("", code, secret[:-1], secret + "x"):
        with pytest.raises(NotTeacher):
            room.update(code, wrong, page="attention")
        with pytest.raises(NotTeacher):
            room.show(code, wrong, Shown(patch=3))
        with pytest.raises(NotTeacher):
            room.end(code, wrong)
    assert room.get(code).state == STATE and room.get(code).version == 1  # nothing changed
    room.update(code, secret, page="attention")
    assert room.get(code).state.page == "attention"


def test_the_version_moves_only_when_the_state_does():
    room = Classroom(replica="0")
    code, secret = room.start(STATE)
    v = room.version(code)
    assert room.update(code, secret, model="shapes", precision="fp32") == v  # a teacher's rerun, nothing new
    image = ClassImage("Circle", "abc", sample="circle")
    assert room.update(code, secret, image=image) == v + 1
    # the same image again (same content hash), even as new bytes: no change
    assert room.update(code, secret, image=ClassImage("Circle", "abc", sample="circle", data=b"x")) == v + 1
    assert room.update(code, secret, page="patches") == v + 2
    # showing everyone always counts, so a second press brings wandered learners back
    assert room.show(code, secret, Shown(5, 2, None)) == v + 3
    assert room.show(code, secret, Shown(5, 2, None)) == v + 4
    snap = room.get(code)
    assert snap.state.shown == Shown(5, 2, None) and snap.state.shown_no == 2


def test_unknown_and_ended_codes():
    room = Classroom(replica="0")
    with pytest.raises(UnknownClass, match="no class 0ZZZZ"):
        room.get("0ZZZZ")
    assert room.version("0ZZZZ") is None and room.heartbeat("0ZZZZ", "t") is None
    code, secret = room.start(STATE)
    room.end(code, secret)
    assert room.version(code) is None
    with pytest.raises(UnknownClass):
        room.get(code)
    with pytest.raises(UnknownClass):
        room.update(code, secret, page="bits")


def test_learners_are_counted_while_their_heartbeat_is_recent():
    clock = Clock()
    room = Classroom(clock=clock, replica="0")
    code, secret = room.start(STATE)
    for token in ("a", "b", "c"):
        room.heartbeat(code, token)
    room.heartbeat(code, "a")  # the same learner twice is one
    assert room.learners(code, secret) == 3
    clock.now += classroom.LEARNER_WINDOW_S / 2
    room.heartbeat(code, "a")
    clock.now += classroom.LEARNER_WINDOW_S / 2 + 1
    assert room.learners(code, secret) == 1  # b and c went quiet
    assert set(room._classes[code].heartbeats) == {"a"}  # and their tokens are forgotten
    room.leave(code, "a")
    assert room.learners(code, secret) == 0


def test_a_class_ends_after_idle_hours_and_activity_keeps_it():
    clock = Clock()
    room = Classroom(clock=clock, idle_s=3600, replica="0")
    kept, kept_secret = room.start(STATE)
    idle, _ = room.start(STATE)
    clock.now += 3000
    room.update(kept, kept_secret, page="bits")  # the teacher is active
    clock.now += 1000  # idle: 4000 s untouched; kept: 1000 s
    assert room.version(idle) is None
    assert room.version(kept) is not None
    clock.now += 2000
    room.heartbeat(kept, "learner")  # a learner's open page keeps it too
    clock.now += 3000
    assert room.version(kept) is not None
    clock.now += 700
    assert room.version(kept) is None and len(room) == 0


def test_the_number_of_classes_is_bounded_and_the_longest_idle_ends():
    clock = Clock()
    room = Classroom(clock=clock, max_classes=3, replica="0")
    codes = []
    for _ in range(3):
        codes.append(room.start(STATE))
        clock.now += 10
    room.update(*codes[0], page="bits")  # the oldest class is in use: the second one is idle longest
    fourth, _ = room.start(STATE)
    assert len(room) == 3
    assert room.version(codes[1][0]) is None
    assert all(room.version(c) is not None for c in (codes[0][0], codes[2][0], fourth))


def test_heartbeat_tokens_are_bounded(monkeypatch):
    monkeypatch.setattr(classroom, "MAX_LEARNERS_TRACKED", 5)
    clock = Clock()
    room = Classroom(clock=clock, replica="0")
    code, secret = room.start(STATE)
    for i in range(8):
        assert room.heartbeat(code, f"t{i}") == 1  # past the bound a learner still follows
    assert room.learners(code, secret) == 5
    clock.now += classroom.LEARNER_WINDOW_S + 1
    room.heartbeat(code, "late")  # the quiet ones are forgotten to make room
    assert room.learners(code, secret) == 1


def test_many_sessions_at_once():
    room = Classroom(replica="0")
    code, secret = room.start(STATE)

    def learner(i: int) -> None:
        for _ in range(200):
            room.heartbeat(code, f"l{i}")
            room.version(code)

    def teacher() -> None:
        for i in range(200):
            room.update(code, secret, page=("bits", "patches")[i % 2])

    threads = [threading.Thread(target=learner, args=(i,)) for i in range(8)] + [threading.Thread(target=teacher)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert room.learners(code, secret) == 8
    assert room.version(code) == 201  # every page change counted once


def test_the_teachers_ended_sentence_names_both_ways_a_class_ends_without_them():
    """Idle hours and the bound on classes both end a class while its teacher's page is open: the teacher's
    sentence names both, with the registry's own numbers, and both leave the teacher with UnknownClass."""
    said = classroom.ended_sentence()
    assert f"{classroom.IDLE_S / 3600:g} hours" in said and f"past this server's {classroom.MAX_CLASSES}" in said
    assert "idle longest" in said and "restart" not in said  # a restart ends the teacher's session: never read
    assert "7 hours" in classroom.ended_sentence(max_classes=4, idle_s=7 * 3600) and "4 and" in \
        classroom.ended_sentence(max_classes=4, idle_s=7 * 3600)
    clock = Clock()
    room = Classroom(clock=clock, max_classes=1, idle_s=3600, replica="0")
    first = room.start(STATE)
    room.start(STATE)  # past the bound: the first ends
    with pytest.raises(UnknownClass):
        room.update(*first, page="bits")
    idle = room.start(STATE)
    clock.now += 3601
    with pytest.raises(UnknownClass):
        room.update(*idle, page="bits")


def test_a_change_wakes_the_followers_that_handed_in_a_wake_up():
    clock = Clock()
    room = Classroom(clock=clock, replica="0")
    code, secret = room.start(STATE)
    woken: list[str] = []
    room.heartbeat(code, "a", lambda: woken.append("a"))
    room.heartbeat(code, "b", lambda: woken.append("b"))
    room.heartbeat(code, "c")  # counted, but exploring alone: no wake-up
    room.update(code, secret, page="attention")
    assert sorted(woken) == ["a", "b"]
    woken.clear()
    room.update(code, secret, page="attention")  # nothing changed: nobody is woken
    assert woken == []
    room.show(code, secret, Shown(patch=3))  # "show everyone" wakes even on the same selection
    assert sorted(woken) == ["a", "b"]
    woken.clear()
    room.heartbeat(code, "a")  # a went exploring alone: its wake-up is dropped
    room.leave(code, "b")
    room.update(code, secret, page="bits")
    assert woken == []


def test_quiet_followers_are_not_woken_and_a_failing_wake_up_does_not_stop_the_others():
    clock = Clock()
    room = Classroom(clock=clock, replica="0")
    code, secret = room.start(STATE)
    woken: list[str] = []

    def broken() -> None:
        raise RuntimeError("session closed")

    room.heartbeat(code, "gone", lambda: woken.append("gone"))
    clock.now += classroom.LEARNER_WINDOW_S + 1
    room.heartbeat(code, "broken", broken)
    room.heartbeat(code, "here", lambda: woken.append("here"))
    assert room.learners(code, secret) == 2  # the quiet one is forgotten, with its wake-up
    assert room.update(code, secret, page="block") == 2  # the broken wake-up does not reach the teacher
    assert woken == ["here"]


def test_ending_a_class_wakes_its_followers_to_find_it_gone():
    room = Classroom(replica="0")
    code, secret = room.start(STATE)
    seen: list[int | None] = []
    room.heartbeat(code, "a", lambda: seen.append(room.version(code)))
    room.end(code, secret)
    assert seen == [None]  # woken after the class was gone, not while it still ran


def test_a_wake_up_may_read_the_class_it_was_woken_by():
    """Wake-ups are called after the registry's lock is released: one that reads the class does not deadlock."""
    room = Classroom(replica="0")
    code, secret = room.start(STATE)
    seen: list[str] = []
    room.heartbeat(code, "a", lambda: seen.append(room.get(code).state.page))
    room.update(code, secret, page="vectors")
    assert seen == ["vectors"]


def test_changes_made_without_waking_wake_the_class_when_the_teacher_says():
    room = Classroom(replica="0")
    code, secret = room.start(STATE)
    woken: list[str] = []
    room.heartbeat(code, "a", lambda: woken.append("a"))
    room.update(code, secret, wake=False, page="attention")
    room.show(code, secret, Shown(patch=1), wake=False)
    assert woken == []  # the teacher's page is drawn first
    assert room.wake(code, secret) == 1 and woken == ["a"]
    with pytest.raises(NotTeacher):
        room.wake(code, "not the secret")  # the join code alone wakes nobody
