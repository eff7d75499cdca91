"""A wake-up for this browser tab's session: a callable that asks the server to rerun the tab now, on its page or
on another one, from any thread (the teacher's script run calls it when the class changes).

Streamlit reruns a session on the server's own initiative in one place, "run on save": when a source file changes it
calls ``AppSession.request_rerun`` with the session's last client state (its page and query string), and the browser
draws that run as it draws any other. A wake-up does the same for one session, found by its id through
``Runtime.get_app_session`` (safe on any thread) and scheduled on the server's event loop, where AppSession's methods
run. A follower's page then starts within a moment of the teacher's change instead of at its next poll, and idle
followers need to check the class only every few seconds. Where the runtime is not there (AppTest, a bare script) or no longer offers
these, there is no wake-up: the follower's poll (``ui.classroom``) is the way it learns of changes.
"""

from __future__ import annotations

from collections.abc import Callable


def this_session() -> Callable[[str | None], None] | None:
    """A wake-up that reruns this run's session with the query string this run has, on the page whose url path it
    is given (``""``: the home page), or on this run's page when given None; None where the server cannot rerun a
    session on its own initiative."""
    try:
        from streamlit import runtime
        from streamlit.proto.ClientState_pb2 import ClientState
        from streamlit.runtime.scriptrunner import get_script_run_ctx
    except ImportError:  # pragma: no cover - a Streamlit without these modules
        return None
    ctx = get_script_run_ctx()
    if ctx is None or not runtime.exists():
        return None
    server = runtime.get_instance()
    session = server.get_app_session(ctx.session_id) if hasattr(server, "get_app_session") else None
    if session is None or getattr(session, "_event_loop", None) is None or not hasattr(session, "request_rerun"):
        return None  # not a live tab's session, or another Streamlit: the follower's poll carries it
    session_id, page, query = ctx.session_id, ctx.page_script_hash, ctx.query_string

    def wake(url_path: str | None = None) -> None:
        live = server.get_app_session(session_id)
        if live is None:  # the tab closed, or reconnected as another session (which polls and re-registers)
            return
        # a page named by its url path runs that page at once (st.navigation finds it as it finds a typed address)
        state = (ClientState(query_string=query, page_script_hash=page) if url_path is None
                 else ClientState(query_string=query, page_name=url_path))
        live._event_loop.call_soon_threadsafe(live.request_rerun, state)

    return wake
