"""A class in the app: the teacher starts one in presenter mode and leads it; learners join by link or code and
follow, or explore alone. The registry is ``vitviz.classroom`` (one per process, in memory); this is its glue.

Following goes through the very session-state keys the sidebar and the pages use (``ui.session``): a follower's
model, number format, image, page, patch, block and head are set as if the learner had chosen them, so the frame
builds exactly the teacher's identity and every analysis and figure comes from the shared caches (``ui.caches``).
A following tab hands the class a wake-up (``ui.wake``): the teacher's change asks the follower's session to rerun at
once, as Streamlit's "run on save" does. A small fragment also checks the class's version (one dict look-up) and
reruns the app when it moved past what the follower last applied: every few seconds, to stay counted and to catch
a wake-up that was lost; about once a second where the server offers no wake-up (then it is the only way).
"""

from __future__ import annotations

import html
import io
import secrets
import socket
import threading
from collections import OrderedDict
from collections.abc import Callable
from functools import lru_cache

import segno
import streamlit as st

from vitviz import classroom as core
from vitviz.classroom import ClassImage, Classroom, ClassState, Shown
from vitviz.inputs.decode import ImageError, load_image
from vitviz.inputs.samples import BY_KEY as SAMPLES
from vitviz.model.analysis import Analysis
from vitviz.walkthrough import BY_KEY as STAGE_BY_KEY, HOME_PAGE

from . import caches, session, wake
from .session import ChosenImage

ROOM = Classroom()  # this process's classes
POLL_S = 1.0  # a follower without a wake-up checks the class's version this often
POLL_WOKEN_S = 4.0  # a follower with one, or a learner exploring alone (the learner count's window is 10 s)
COUNT_S = 3.0  # the teacher's learner count is refreshed this often
QUERY = "class"  # the join link's parameter: <address>/?class=<CODE>
LOCAL_NAMES = ("", "localhost", "127.0.0.1", "0.0.0.0", "::1", "[::1]")

K_TEACH = "_vitviz_teach"  # (code, secret) | None: held only in the teacher's session
K_PANEL = "_vitviz_join_panel"  # bool: the join panel is open on the teacher's screen
K_ADDRESS = "vitviz_class_address"  # str: the address learners reach (a text field the teacher can correct)
K_JOINED = "_vitviz_joined"  # str | None: the class this learner joined
K_FOLLOW = "_vitviz_following"  # bool: following the teacher (else exploring alone)
K_APPLIED = "_vitviz_applied"  # int | None: the class version this follower last applied
K_SHOWN = "_vitviz_shown_applied"  # int | None: the teacher's "show everyone" press this follower last took
K_PENDING = "_vitviz_shown_pending"  # Shown | None: taken once the analysis is known (its grid, depth and heads)
K_TOKEN = "_vitviz_learner_token"  # str: a random token, only to count this tab once
K_SEEN_LINK = "_vitviz_seen_link"  # the ?class= value already handled (a reload of the link rejoins, once)
K_MESSAGE = "_vitviz_class_message"  # str | None: one sentence about a code that leads nowhere, or an ended class
K_CODE_INPUT = "vitviz_join_code"  # the home page's code field
K_TYPED = "_vitviz_typed_message"  # str | None: a typed code that leads nowhere, said under the field
K_PAGE = "_vitviz_page"  # the page of the last run (what "show everyone" reads the block and head of)
K_WOKEN = "_vitviz_woken_version"  # (code, version) | None: the class state this teacher last woke followers for

START_NOTE = ("Everyone who joins sees what you choose here: your model, number format, page and **your image** — "
              "a sample, or the photo you uploaded, which is then shown to the class. **Show everyone** also sends "
              "your selected patch, block and head. Learners can explore alone and come back with one click; "
              "their own images never reach the class. Nothing about them is kept: the class counts open pages, "
              "no names.")


# --- where the learners connect ---------------------------------------------------------------------------

def lan_address() -> str:
    """This machine's address on the local network: the interface a UDP socket would use to reach a private
    address (``connect`` on UDP sends no packet), or 127.0.0.1 when there is no network."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.254.254.254", 1))
            return s.getsockname()[0]
    except OSError:
        return "127.0.0.1"


def default_address() -> str:
    """The address the learners open: the public name Streamlit was told (``browser.serverAddress``, which
    Streamlit Community Cloud sets), else this machine's LAN address; with the port browsers use
    (``browser.serverPort``: the server's own unless set, e.g. for a proxy in front)."""
    name = str(st.get_option("browser.serverAddress") or "").strip().rstrip("/")
    port = int(st.get_option("browser.serverPort") or st.get_option("server.port") or 8501)
    public = name.lower().split("/", 1)[0] not in LOCAL_NAMES
    host = name if public else lan_address()
    scheme = "https" if port == 443 else "http"
    if "://" in host:
        return host
    if port in (80, 443):
        return f"{scheme}://{host}"
    head, _, path = host.partition("/")
    return f"{scheme}://{head}:{port}" + (f"/{path}" if path else "")


@lru_cache(maxsize=32)
def qr_png(link: str) -> bytes:
    """The join link as a QR code (PNG), black on white with the quiet zone a phone's camera needs."""
    buf = io.BytesIO()
    segno.make(link, error="m").save(buf, kind="png", scale=10, border=4)
    return buf.getvalue()


# --- the state followers copy -------------------------------------------------------------------------------

def _class_image(chosen: ChosenImage | None) -> ClassImage | None:
    if chosen is None:
        return None
    if chosen.origin == "sample":
        key = next((s.key for s in SAMPLES.values() if s.title == chosen.name), None)
        if key is not None:
            return ClassImage(chosen.name, chosen.digest, sample=key)
    if chosen.data is None:
        return None  # nothing a follower could decode
    _remember(chosen)  # the class lives in this process: its followers reuse the teacher's decoded image
    return ClassImage(chosen.name, chosen.digest, data=chosen.data)


_decoded: "OrderedDict[str, ChosenImage]" = OrderedDict()  # the teachers' images, decoded once per process
_decoded_lock = threading.Lock()
_DECODED_MAX = 8


def _remember(chosen: ChosenImage) -> None:
    with _decoded_lock:
        _decoded[chosen.digest] = chosen
        _decoded.move_to_end(chosen.digest)
        while len(_decoded) > _DECODED_MAX:
            _decoded.popitem(last=False)


def _chosen_of(image: ClassImage) -> ChosenImage | None:
    """The teacher's image as this process's followers use it: one decoded object for the whole class."""
    with _decoded_lock:
        hit = _decoded.get(image.digest)
        if hit is not None:
            _decoded.move_to_end(image.digest)
            return hit
    if image.sample is not None and image.sample in SAMPLES:
        decoded, digest = caches.sample_image(image.sample)
        chosen = ChosenImage(decoded, image.name, "sample", digest)
    elif image.data is not None:
        try:
            decoded = load_image(image.data)
        except ImageError:
            return None
        chosen = ChosenImage(decoded, image.name, "upload", image.digest)  # the teacher's digest of these bytes
    else:
        return None
    _remember(chosen)
    return chosen


def _page_key(page: st.navigation) -> str:
    return getattr(page, "url_path", "") or ""


def _page_path(key: str) -> str:
    return STAGE_BY_KEY[key].page if key in STAGE_BY_KEY else HOME_PAGE


# --- the teacher --------------------------------------------------------------------------------------------

def teaching() -> tuple[str, str] | None:
    return st.session_state.get(K_TEACH)


def _start() -> None:
    """"Start a class": a class showing what this session shows now; the secret stays in this session."""
    st.session_state[K_TEACH] = ROOM.start(ClassState(st.session_state.get(session.K_MODEL, ""),
                                                      st.session_state.get(session.K_PRECISION, "")))
    st.session_state[K_PANEL] = True


def _end() -> None:
    held = teaching()
    st.session_state[K_TEACH] = None
    if held is not None:
        try:
            ROOM.end(*held)
        except core.ClassError:
            pass  # already gone (expired): ended either way


def _show_everyone() -> None:
    """The teacher's selected patch, and the block and head of the page on screen, for every follower."""
    held = teaching()
    if held is None:
        return
    s = st.session_state
    page = s.get(K_PAGE, "")
    layer = head = None
    if page == "attention":
        layer = s.get(session.K_ATTN_LAYER)
        label = s.get(session.K_ATTN_HEAD)
        head = session.head_of(label) if isinstance(label, str) else None
    elif page == "block":
        layer, head = s.get(session.K_BLOCK_LAYER), s.get(session.K_BLOCK_HEAD)
    patch = s.get(session.K_PATCH)
    try:
        ROOM.show(*held, Shown(patch if isinstance(patch, int) else None,
                               layer if isinstance(layer, int) else None, head if isinstance(head, int) else None),
                  wake=False)  # the run this press starts wakes them (wake_after_page)
    except core.UnknownClass:
        _lost(core.ended_sentence())
    except core.ClassError as exc:
        _lost(str(exc))


def _lost(message: str) -> None:
    st.session_state[K_TEACH] = None
    st.session_state[K_MESSAGE] = message


def publish(page: st.navigation) -> None:
    """The teacher's run: what followers copy, as this session has it now (the version moves only on a change)."""
    key = _page_key(page)
    moved = st.session_state.get(K_PAGE, key) != key
    st.session_state[K_PAGE] = key
    held = teaching()
    if held is None:
        return
    if moved:  # the lesson goes on: the join panel folds away ("Show the join panel" brings it back)
        st.session_state[K_PANEL] = False
    s = st.session_state
    try:  # the followers are woken once this run has drawn the teacher's page (wake_after_page)
        ROOM.update(*held, wake=False, model=s.get(session.K_MODEL, ""), precision=s.get(session.K_PRECISION, ""),
                    page=_page_key(page), image=_class_image(session.chosen_image()))
    except core.UnknownClass:
        _lost(core.ended_sentence())
    except core.ClassError as exc:
        _lost(str(exc))


def wake_after_page() -> Callable[[], None]:
    """Before a teacher's page runs: what to call once it has run, waking the followers when this run (or a press
    before it) moved the class on; for anyone else, nothing.

    The teacher's page is drawn first, with the core to itself: the projector shows the change at once, and the
    followers' runs then find its analysis and figures in the shared caches. Everything is read here, before the
    page: a page that ends with ``st.stop()`` leaves its run unable to touch Streamlit afterwards."""
    held = teaching()
    if held is None:
        return lambda: None
    s = st.session_state
    try:
        version = ROOM.get(held[0]).version
    except core.ClassError:
        return lambda: None  # ended: the next run of this page says so
    if (held[0], version) == s.get(K_WOKEN):
        return lambda: None
    s[K_WOKEN] = (held[0], version)

    def wake_class() -> None:
        try:
            ROOM.wake(*held)
        except core.ClassError:
            pass  # ended meanwhile: nobody to wake
    return wake_class


def start_button() -> None:
    """Presenter mode, nobody's class yet: the button that starts one."""
    if session.presenter() and teaching() is None and st.session_state.get(K_JOINED) is None:
        st.button("🧑‍🏫 Start a class", key="vitviz_class_start", on_click=_start,
                  help="Learners join from their phones with a QR code or a short code and follow your page.")


@st.fragment(run_every=COUNT_S)
def _learner_count(code: str, secret: str) -> None:
    try:
        n = ROOM.learners(code, secret)
    except core.ClassError:
        st.caption("This class has ended.")
        return
    st.markdown(f"**{n}** learner{'s' if n != 1 else ''} joined", width="content")


def teacher_bar() -> None:
    """The teacher's class line (code, count, show everyone, the join panel, end), and the join panel when open."""
    held = teaching()
    if held is None:
        return
    code, secret = held
    if st.session_state.get(K_PANEL, False):
        join_panel(code, secret)
    with st.container(horizontal=True, vertical_alignment="center", gap="medium"):
        st.markdown(f"🧑‍🏫 Class **{code}**", width="content")
        _learner_count(code, secret)
        st.button("📣 Show everyone", key="vitviz_class_show", on_click=_show_everyone,
                  help="Every follower gets your selected patch, and the block and head of this page.")
        open_now = st.session_state.get(K_PANEL, False)
        st.button("Hide the join panel" if open_now else "Show the join panel", key="vitviz_class_panel",
                  on_click=_toggle_panel)
        st.button("End the class", key="vitviz_class_end", on_click=_end)


def _toggle_panel() -> None:
    st.session_state[K_PANEL] = not st.session_state.get(K_PANEL, False)


def join_panel(code: str, secret: str) -> None:
    """On the projector: the QR code, the join address in large type, the code, and how many learners joined."""
    if st.session_state.get(K_ADDRESS) is None:
        st.session_state[K_ADDRESS] = default_address()
    with st.container(border=True):
        left, right = st.columns([1, 2], gap="large")
        address = str(st.session_state.get(K_ADDRESS) or "").strip() or default_address()
        link = core.join_link(address, code)
        with left:
            st.image(qr_png(link), caption="Scan to join", width=320)
        with right:
            st.markdown("Join the class: open")
            st.html(f'<div data-testid="vitviz-join-link" style="font-size:2.6rem;font-weight:700;'
                    f'overflow-wrap:anywhere;line-height:1.2">{html.escape(link)}</div>')
            st.html(f'<div style="font-size:1.6rem">or type the code <b data-testid="vitviz-join-code" '
                    f'style="font-size:2.4rem;letter-spacing:0.2em">{html.escape(code)}</b> on the home page</div>')
            st.text_input("The address learners reach (correct it if they open this computer by another name)",
                          key=K_ADDRESS)
            st.caption(START_NOTE)


# --- a learner ----------------------------------------------------------------------------------------------

def _join(code: str) -> None:
    s = st.session_state
    held = teaching()
    if held is not None and held[0] == code:
        s[K_MESSAGE] = "This is your own class: you lead it from this window."
        return
    s[K_JOINED], s[K_FOLLOW], s[K_APPLIED], s[K_SHOWN], s[K_MESSAGE] = code, True, None, None, None


def _try_join(typed: str, where: str = K_MESSAGE, typed_here: bool = False) -> None:
    """Join the class ``typed`` names, or say in one sentence (under ``where``) that none runs here.

    Behind ``deploy/serve.sh`` a class lives on the process its code's digit names, and nginx routes a page load
    with ``?class=CODE`` there: a code typed on another process's page gets its join link to open."""
    code = core.normalise(typed)
    if typed_here and code is not None and ROOM.version(code) is None and code[0] != core.replica_digit():
        st.session_state[where] = (f"Class {code} is held by another of this server's app processes: "
                                   f"[open its join link](?class={code}) to reach it.")
        return
    if code is None or ROOM.version(code) is None:
        shown = html.escape(str(typed).strip())[:20] or "(empty)"
        st.session_state[where] = (f"No class {shown} is running here: check the code on the teacher's screen "
                                       "(5 characters, a digit then 4 letters), or the class has ended. "
                                       "The app works as usual meanwhile.")
        return
    _join(code)


def _on_typed() -> None:
    _try_join(str(st.session_state.get(K_CODE_INPUT) or ""), K_TYPED, typed_here=True)


def _leave() -> None:
    code = st.session_state.get(K_JOINED)
    if code is not None:
        ROOM.leave(code, _token())
    st.session_state[K_JOINED] = None


def _set_follow(on: bool) -> None:
    st.session_state[K_FOLLOW] = on
    code = st.session_state.get(K_JOINED)
    if not on and code is not None:  # exploring alone: no more wake-ups, from this click on
        ROOM.heartbeat(code, _token(), None)
    if on:  # back to following: take the teacher's whole state again, the last "show everyone" included
        st.session_state[K_APPLIED] = None
        st.session_state[K_SHOWN] = None


def _token() -> str:
    s = st.session_state
    if K_TOKEN not in s:
        s[K_TOKEN] = secrets.token_hex(8)
    return s[K_TOKEN]


def arrive(page: st.navigation) -> None:
    """Each run, before the sidebar's widgets: a join link, then (following) the teacher's model, number format,
    image and page, through the widgets' own keys. A page change switches the page (a rerun)."""
    s = st.session_state
    link = st.query_params.get(QUERY)
    if link is not None and link != s.get(K_SEEN_LINK):
        s[K_SEEN_LINK] = link
        _try_join(link)
    code = s.get(K_JOINED)
    if code is None:
        return
    if st.query_params.get(QUERY) != code:  # joined by typing the code: the address names the class too, so a
        st.query_params[QUERY] = code       # reload rejoins (and a wake-up's rerun keeps it)
        s[K_SEEN_LINK] = code
    try:
        snap = ROOM.get(code)
    except core.UnknownClass:
        s[K_JOINED] = None
        s[K_MESSAGE] = f"Class {code} has ended. You can go on exploring on your own."
        return
    if not s.get(K_FOLLOW, True) or snap.version == s.get(K_APPLIED):
        return
    state = snap.state
    if state.model:
        s[session.K_MODEL] = state.model
    if state.precision:
        s[session.K_PRECISION] = state.precision
    if state.image is not None:
        chosen = session.chosen_image()
        if chosen is None or chosen.digest != state.image.digest:
            theirs = _chosen_of(state.image)
            if theirs is not None:
                session.use_image(theirs)
    if state.shown is not None and state.shown_no != s.get(K_SHOWN):
        s[K_PENDING] = state.shown
        s[K_SHOWN] = state.shown_no
    target = state.page if state.page in STAGE_BY_KEY else ""  # the teacher's page ("": home)
    if target != _page_key(page):  # the link stays in the address bar: a phone that reloads the tab rejoins
        # not marked applied yet: the run on the teacher's page marks it. A switch's rerun can be taken over by
        # another request (the tab's own check, sent with the page it shows); the next run then switches again
        st.switch_page(_page_path(target), query_params={QUERY: code})
    s[K_APPLIED] = snap.version


def take_shown(analysis: Analysis | None) -> None:
    """After the analysis, before the patch picker and the page: the teacher's shown patch, block and head, where
    they fit this model (they do: a follower runs the teacher's model)."""
    shown: Shown | None = st.session_state.pop(K_PENDING, None)
    if shown is None or analysis is None:
        return
    s = st.session_state
    if shown.patch is not None and 0 <= shown.patch < analysis.num_patches:
        s[session.K_PATCH] = int(shown.patch)
    if shown.layer is not None and 1 <= shown.layer <= analysis.depth:
        s[session.K_ATTN_LAYER] = s[session.K_BLOCK_LAYER] = int(shown.layer)
        if shown.head is None:
            s[session.K_ATTN_HEAD] = session.head_label(None)
        elif 0 <= shown.head < analysis.heads:
            s[session.K_ATTN_HEAD] = session.head_label(shown.head)
            s[session.K_BLOCK_HEAD] = int(shown.head)


def _wake_up(code: str) -> Callable[[], None] | None:
    """This follower's wake-up for the class: rerun the tab on the teacher's page (so a page change costs one run, not
    a run that switches pages and then the new page's), or on its own page once the class has ended."""
    nudge = wake.this_session()
    if nudge is None:
        return None

    def woken() -> None:
        try:
            nudge(ROOM.get(code).state.page)
        except core.UnknownClass:
            nudge(None)  # ended: this page's run says so
    return woken


def _check(code: str, applied: int | None, following: bool) -> None:
    """Count this tab as joined (a follower: with its wake-up) and, when the class moved on (or ended), rerun the
    app. Draws nothing, so a check that finds nothing new sends the browser nothing but the run's end."""
    version = ROOM.heartbeat(code, _token(), _wake_up(code) if following else None)
    if version is None or (following and version != applied):
        st.rerun(scope="app")


@st.fragment(run_every=POLL_S)
def _watch(code: str, applied: int | None, following: bool) -> None:
    """About once a second: a follower the server cannot wake."""
    _check(code, applied, following)


@st.fragment(run_every=POLL_WOKEN_S)
def _watch_woken(code: str, applied: int | None, following: bool) -> None:
    """Every few seconds: a follower the teacher's changes wake, or a learner exploring alone."""
    _check(code, applied, following)


def bar() -> None:
    """Above the page: the teacher's class line and join panel, or a joined learner's mode line; and the one
    sentence about a code that leads nowhere or a class that ended (said once)."""
    message = st.session_state.pop(K_MESSAGE, None)
    if message:
        st.info(message, icon="🧑‍🏫")
    teacher_bar()
    learner_bar()


def learner_bar() -> None:
    """Above a joined learner's page: which mode they are in, the one-click switch, and the class check."""
    s = st.session_state
    code = s.get(K_JOINED)
    if code is None:
        return
    following = bool(s.get(K_FOLLOW, True))
    if following:
        st.success(f"**Following the teacher** · class {code}: the page, model, number format and image are the "
                   "teacher's.", icon="👀")
    else:
        st.info(f"**Exploring alone** · class {code}: your own choices; the teacher's changes wait.", icon="🧭")
    with st.container(horizontal=True, gap="small"):
        if following:
            st.button("Explore alone", key="vitviz_class_explore", on_click=_set_follow, args=(False,),
                      help="Choose your own image, patch, block and head; the teacher's changes wait until you "
                           "come back.")
        else:
            st.button("Follow the teacher", key="vitviz_class_follow", on_click=_set_follow, args=(True,),
                      help="Back to the teacher's page, image and selection.")
        st.button("Leave the class", key="vitviz_class_leave", on_click=_leave)
    woken = not following or wake.this_session() is not None
    (_watch_woken if woken else _watch)(code, s.get(K_APPLIED), following)


def join_box() -> None:
    """On the home page, for a learner in no class: type the code from the teacher's screen."""
    if st.session_state.get(K_JOINED) is not None or teaching() is not None:
        return
    typed = st.session_state.pop(K_TYPED, None)
    with st.expander("Join a class (a code from the teacher's screen)", icon=":material/groups:", expanded=bool(typed)):
        with st.form("vitviz_join_form", border=False):
            st.text_input("Class code", key=K_CODE_INPUT, max_chars=12, placeholder="e.g. 0ABCD")
            st.form_submit_button("Join", on_click=_on_typed)
        if typed:
            st.info(typed, icon="🧑‍🏫")
