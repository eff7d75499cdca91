"""A follower is woken by the teacher's change: through the real server, a follower tab that never sends its poll
(the fragment's ``run_every`` reruns a browser would ask for) still shows the teacher's new page, and the class's
end. The tabs speak Streamlit's websocket protocol (``benchmarks/classroom_load.py``'s simulated tab)."""

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from benchmarks.classroom_load import ClassClient, ForwardMsg

WAIT_S = 60  # a bound against a hang, not a timing


class Tab(ClassClient):
    """A simulated tab that also keeps the text of every message box its runs draw."""

    def __init__(self, url: str, index: int) -> None:
        super().__init__(url, index, 0.0, WAIT_S, "sample", None)
        self.alerts: list[str] = []

    def _on_message(self, msg: ForwardMsg, size: int) -> None:
        if msg.WhichOneof("type") == "delta" and msg.delta.WhichOneof("type") == "new_element":
            el = msg.delta.new_element
            if el.WhichOneof("type") == "alert":
                self.alerts.append(el.alert.body)
        super()._on_message(msg, size)


async def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"the follower never {what} (it sent no poll: only a wake-up could)"
        await asyncio.sleep(0.05)


async def _class(url: str) -> None:
    teacher, follower = Tab(url, 40_000), Tab(url, 40_001)
    (t_ws, t_reader), (f_ws, f_reader) = await teacher.connect(), await follower.connect()
    try:
        assert await teacher.start_class(t_ws), "the teacher's page shows no class code"

        join = await follower.join(f_ws, teacher.code)
        assert not join.errors, join.errors
        assert any("Following the teacher" in a for a in follower.alerts)
        runs = len(follower.full_ends)

        for page in ("patches", "attention", ""):  # the teacher moves on (and home); the follower's tab sends nothing
            await teacher._rerun(t_ws, page, page=page)
            want = teacher.pages[page]
            await _until(lambda: len(follower.full_ends) > runs and follower.full_pages[-1] == want,
                         f"reached the teacher's {page or 'home'} page")
            runs = len(follower.full_ends)

        teacher.press("vitviz_class_end")
        await teacher._rerun(t_ws, "end the class")
        teacher.release("vitviz_class_end")
        await _until(lambda: any(f"Class {teacher.code} has ended" in a for a in follower.alerts),
                     "heard that the class ended")
        assert not [e for s in follower.steps + teacher.steps for e in s.errors]
    finally:
        for ws, reader in ((t_ws, t_reader), (f_ws, f_reader)):
            reader.cancel()
            await ws.close()


def test_a_follower_that_never_polls_is_woken_by_the_teachers_changes(server):
    # a thread of its own: Playwright's sync API (the browser tests) keeps an event loop running in this one
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _class(server)).result()
