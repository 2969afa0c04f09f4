"""The widget in Chromium, against a real Parley (daphne, Redis, SQLite) and a host site on
another origin that carries only the snippet. An operator chats over /ws/app/ with a
websockets client. Screenshots land in docs/screenshots/."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.processes import CHROMIUM
from tests.shared.browser import (
    bubble,
    chat_frame,
    launcher_point,
    open_widget,
    operator_socket,
    send,
    shooter,
    start_chat,
    wait_launcher,
    wait_usable,
)
from tests.shared.cut_socket import SocketCutter
from tests.widget.live import live_parley

pytestmark = [pytest.mark.browser, pytest.mark.slow]

shot = shooter("widget")
VIEWPORT = {"width": 1000, "height": 760}
PHONE = {"width": 375, "height": 740}


@pytest.fixture(scope="module")
def parley():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (set PARLEY_CHROMIUM)")
    with live_parley() as server:
        yield server


@pytest.fixture
def operator(parley):
    client = operator_socket(parley)
    yield client
    client.close()


def png_bytes() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (234, 88, 12)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_visitor_chats_with_an_operator_through_navigation_and_a_lost_connection(parley, host, browser, operator):
    context = browser.new_context(viewport=VIEWPORT, locale="en-US")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(host + "/index.html")
    wait_launcher(page)
    # The chat iframe costs nothing until the visitor asks for it.
    assert not any("/widget/frame/" in f.url for f in page.frames)

    frame = open_widget(page)
    frame.wait_for_selector("#pw-prechat:not([hidden])")
    assert frame.locator("#pw-pre-name").evaluate("el => el === document.activeElement")
    start_chat(frame, "Ann <b>")
    send(frame, "Hello, is the <script>alert(1)</script> sofa in stock?")
    hello = operator.visitor_message("Hello, is the <script>alert(1)</script> sofa in stock?")
    conversation = hello["conversation"]
    # Sending -> sent once acked; shown as text, never as markup.
    mine = frame.locator(".pw-mine").last
    mine.locator(".pw-meta", has_text="Sent").wait_for()
    assert frame.locator(".pw-bubble script").count() == 0

    # The operator's draft is not shown to the visitor, the typing indicator is.
    operator.send(type="accept", conversation=conversation)
    operator.send(type="typing", conversation=conversation, on=True)
    frame.locator("#pw-typing", has_text="is typing").wait_for()
    # And the visitor's draft reaches the operator as a throttled preview.
    frame.locator("#pw-input").press_sequentially("I also need a ta", delay=15)
    operator.wait_for(
        lambda f: f.get("type") == "typing" and f.get("side") == "visitor" and f.get("draft", "").startswith("I also")
    )
    # A private note takes a sequence number the visitor never sees: no gap, no note.
    operator.send(type="send", conversation=conversation, client_id="op-note", kind="note", body="VIP, be nice")
    operator.send(type="send", conversation=conversation, client_id="op-1", body="Yes, it ships tomorrow.")
    bubble(frame, "Yes, it ships tomorrow.").wait_for()
    assert bubble(frame, "VIP").count() == 0
    assert frame.locator("#pw-typing").inner_text() == ""
    ack = operator.wait_for(lambda f: f.get("type") == "message" and f["message"]["client_id"] == "op-1")
    operator.send(type="read", conversation=conversation, seq=ack["message"]["seq"])
    mine.locator(".pw-meta", has_text="Read").wait_for()
    frame.locator("#pw-input").fill("")
    shot(page, "en")

    # A single-page-app navigation reaches the operator as the visitor's current page.
    page.evaluate("() => { history.pushState({}, '', '/pricing?plan=pro'); document.title = 'Pricing'; }")
    seen = operator.wait_for(
        lambda f: f.get("type") == "visitor" and f["visitor"]["current_url"].endswith("/pricing?plan=pro")
    )
    assert seen["visitor"]["current_title"] == "Pricing"

    # Offline and back: nothing is lost in either direction, nothing is doubled.
    context.set_offline(True)
    frame.wait_for_function("() => document.body.dataset.socket !== 'open'", timeout=5000)
    send(frame, "Written while offline")
    operator.send(type="send", conversation=conversation, client_id="op-2", body="Sent while you were away")
    frame.locator(".pw-state-sending", has_text="Written while offline").wait_for()
    context.set_offline(False)
    operator.visitor_message("Written while offline", timeout=15)
    bubble(frame, "Sent while you were away").wait_for(timeout=15000)
    frame.locator(".pw-state-sent", has_text="Written while offline").wait_for()
    assert bubble(frame, "Sent while you were away").count() == 1
    assert bubble(frame, "Written while offline").count() == 1
    seqs = [int(s) for s in frame.locator(".pw-msg[data-seq]").evaluate_all("els => els.map(e => e.dataset.seq)")]
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))

    # The operator ends the chat; the visitor rates it.
    operator.send(type="close", conversation=conversation)
    frame.locator("#pw-endpanel:not([hidden])").wait_for()
    frame.locator(".pw-rate-btn[data-rating='good']").click()
    frame.locator("#pw-rate-comment").fill("Quick and <i>kind</i>")
    frame.locator("#pw-rate button[type=submit]").click()
    frame.locator("#pw-rate [data-done]:not([hidden])").wait_for()
    # "Email me the transcript" (the email goes out through Celery; the Django tests read it).
    frame.locator("#pw-tr-email").fill("ann@example.com")
    frame.locator("#pw-transcript button[type=submit]").click()
    frame.locator("#pw-transcript [data-done]:not([hidden])", has_text="ann@example.com").wait_for()
    rated = operator.wait_for(lambda f: f.get("type") == "conversation" and f.get("event") == "rated")
    assert rated["conversation"]["rating"] == "good"
    [(rating, comment)] = parley.sql(
        "SELECT rating, rating_comment FROM conversations_conversation WHERE id = ?", (conversation,)
    )
    assert (rating, comment) == ("good", "Quick and <i>kind</i>")

    # Esc closes the chat and gives the focus back to the launcher.
    frame.locator("#pw-tr-email").focus()
    page.keyboard.press("Escape")
    page.wait_for_function("() => document.activeElement && document.activeElement.matches('[data-parley]')")
    assert errors == []
    context.close()


def test_the_first_keystroke_reaches_the_operator_at_once_and_a_drop_resumes_from_the_last_seq(
    parley, host, browser, operator
):
    context = browser.new_context(viewport=VIEWPORT, locale="en-US")
    page = context.new_page()
    sent: list[dict] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(json.loads(payload))))
    page.goto(host + "/index.html")
    wait_launcher(page)
    frame = open_widget(page)
    start_chat(frame, "Dora")
    send(frame, "Dora here")
    conversation = operator.visitor_message("Dora here")["conversation"]
    operator.send(type="accept", conversation=conversation)
    frame.locator(".pw-sys").first.wait_for()

    # Leading edge: the preview of the very first keystroke goes out at once (a trailing-only
    # throttle would send "Where" and never "W").
    frame.locator("#pw-input").press_sequentially("Where", delay=20)
    first = operator.wait_for(
        lambda f: f.get("type") == "typing" and f.get("side") == "visitor" and f.get("conversation") == conversation
    )
    assert first["draft"] == "W"
    operator.wait_for(lambda f: f.get("type") == "typing" and f.get("draft") == "Where")

    # The socket drops; the widget reconnects through the shared client and resumes from the last
    # seq it saw: what the operator wrote meanwhile shows once.
    last_seq = frame.evaluate(
        """async () => {
            const { socket } = await import("/static/widget/js/connection.js");
            const { ParleySocket } = await import("/static/shared/socket.js");
            const { state } = await import("/static/widget/js/state.js");
            if (!(socket instanceof ParleySocket)) return -1;
            socket.ws.close();
            return state.lastSeq;
        }"""
    )
    assert last_seq > 0
    operator.send(type="send", conversation=conversation, client_id="op-drop", body="Sent during the drop")
    bubble(frame, "Sent during the drop").wait_for(timeout=10000)
    wait_usable(frame)
    resumes = [f for f in sent if f.get("type") == "resume" and str(conversation) in f.get("conversations", {})]
    assert resumes[-1]["conversations"][str(conversation)] == last_seq
    assert bubble(frame, "Sent during the drop").count() == 1
    context.close()


def test_a_socket_cut_mid_send_loses_nothing_and_doubles_nothing_through_the_shared_client(
    parley, host, browser, operator
):
    """The socket dies after the server stored a message but before the ack reached the widget,
    and again before a send reached the server; the operator writes during the drop. Every
    message is stored once and shows once, in seq order, on the visitor's screen."""
    context = browser.new_context(viewport=VIEWPORT, locale="en-US")
    cutter = SocketCutter(context)
    page = context.new_page()
    page.goto(host + "/index.html")
    wait_launcher(page)
    frame = open_widget(page)
    start_chat(frame, "Eve")
    send(frame, "One")
    frame.locator(".pw-state-sent", has_text="One").wait_for()
    conversation = operator.visitor_message("One")["conversation"]
    operator.send(type="accept", conversation=conversation)
    frame.locator(".pw-sys").first.wait_for()

    # Stored, but the ack is lost with the socket; the next message is written during the drop.
    cutter.after_stored("Two")
    send(frame, "Two")
    cutter.wait_cuts(frame.page, 1)
    send(frame, "Three")
    operator.send(type="send", conversation=conversation, client_id="op-cut", body="Written during the drop")
    # The send frame itself is lost with the socket.
    frame.locator(".pw-state-sent", has_text="Three").wait_for(timeout=15000)
    cutter.before_server("Four")
    send(frame, "Four")
    cutter.wait_cuts(frame.page, 2)
    frame.locator(".pw-state-sent", has_text="Four").wait_for(timeout=15000)
    bubble(frame, "Written during the drop").wait_for(timeout=15000)
    wait_usable(frame)

    assert cutter.connections >= 3
    for body in ("Two", "Four"):  # resent with the same client id
        resent = cutter.sends(body)
        assert len(resent) == 2 and resent[0]["client_id"] == resent[1]["client_id"], resent
    stored = parley.sql(
        "SELECT body FROM conversations_message WHERE conversation_id = ? AND author_type != 'system'"
        " AND kind != 'note' ORDER BY seq",
        (conversation,),
    )
    stored = [body for (body,) in stored]
    assert sorted(stored) == sorted(["One", "Two", "Three", "Four", "Written during the drop"])
    shown = frame.locator(".pw-msg[data-seq]:not(.pw-sys) .pw-bubble").all_inner_texts()
    assert shown == stored  # each once, in seq order
    assert frame.locator(".pw-msg:not([data-seq]):not(.pw-greet)").count() == 0  # nothing left "sending"
    context.close()


def test_returning_visitor_gets_unread_badge_when_an_operator_writes(parley, host, browser, operator):
    context = browser.new_context(viewport=VIEWPORT, locale="en-US")
    page = context.new_page()
    page.goto(host + "/index.html")
    wait_launcher(page)
    frame = open_widget(page)
    start_chat(frame, "Bob")
    send(frame, "Anyone there?")
    conversation = operator.visitor_message("Anyone there?")["conversation"]
    page.keyboard.press("Escape")
    # Bob comes back after an hour: a new visit of a known visitor.
    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S.%f")
    parley.sql(
        "UPDATE conversations_visitor SET last_seen_at = ?, visit_started_at = ? WHERE name = 'Bob'",
        (an_hour_ago, an_hour_ago),
    )

    # A new page load: the loader knows the visitor (first-party id in the host's storage) and
    # the open conversation; an operator message creates the iframe and badges the launcher.
    page.goto(host + "/index.html")
    wait_launcher(page)
    page.wait_for_timeout(500)
    assert not any("/widget/frame/" in f.url for f in page.frames)
    operator.send(type="send", conversation=conversation, client_id="op-badge", body="Hi Bob, how can I help?")
    chat_frame(page)
    page.wait_for_selector("[data-parley][data-unread='1']", state="attached", timeout=10000)
    shot(page, "unread")
    frame = open_widget(page)
    bubble(frame, "Hi Bob, how can I help?").wait_for()
    assert frame.locator(".pw-greet .pw-bubble").inner_text().startswith("Welcome back")

    # The visitor ends the chat, then starts a new one: a new conversation.
    frame.locator("#pw-end").click()
    operator.wait_for(
        lambda f: (
            f.get("type") == "conversation" and f.get("event") == "closed" and f["conversation"]["id"] == conversation
        )
    )
    frame.locator("#pw-new").click()
    send(frame, "One more question")
    again = operator.visitor_message("One more question")
    assert again["conversation"] != conversation
    frame.locator(".pw-state-sent", has_text="One more question").wait_for()
    context.close()


def test_hostile_host_css_does_not_break_the_widget(parley, host, browser, operator):
    context = browser.new_context(viewport=VIEWPORT, locale="en-US")
    page = context.new_page()
    page.goto(host + "/hostile.html")
    wait_launcher(page)
    # Our launcher is on top of the page's overlays.
    x, y = launcher_point(page)
    on_top = page.evaluate(f"() => document.elementFromPoint({x}, {y}).matches('[data-parley]')")
    assert on_top
    frame = open_widget(page)
    start_chat(frame, "Eve")
    send(frame, "Styled?")
    operator.visitor_message("Styled?")
    # An image goes up over HTTP, is sent by its token and previewed in the chat.
    frame.locator("#pw-file").set_input_files(
        files=[{"name": "sofa <1>.png", "mimeType": "image/png", "buffer": png_bytes()}]
    )
    sent = operator.wait_for(
        lambda f: (
            f.get("type") == "message" and f["message"]["author_type"] == "visitor" and f["message"]["attachments"]
        )
    )
    assert sent["message"]["attachments"][0]["content_type"] == "image/png"
    preview = frame.locator(".pw-mine .pw-files img").last
    preview.wait_for()
    frame.wait_for_function(
        "() => { const img = [...document.querySelectorAll('.pw-files img')].pop();"
        " return img && img.naturalWidth === 40 && !img.src.startsWith('blob:') }"
    )
    box = frame.evaluate("() => [innerWidth, innerHeight]")
    assert box[0] == 380 and box[1] > 400
    font = frame.locator("#pw-input").evaluate("el => getComputedStyle(el).fontSize")
    assert font == "14px"
    shot(page, "hostile-css")
    context.close()


def test_offline_tenant_shows_the_contact_form(parley, host, browser):
    context = browser.new_context(viewport=VIEWPORT, locale="en-US")
    page = context.new_page()
    page.goto(host + "/away.html")
    wait_launcher(page)
    frame = open_widget(page)
    form = frame.locator("#pw-contact")
    form.wait_for()
    frame.locator("#pw-c-name").fill("Zed")
    frame.locator("#pw-c-email").fill("zed@example.com")
    frame.locator("#pw-c-message").fill("Please call me back <soon>")
    frame.locator("#pw-contact button[type=submit]").click()
    frame.locator("#pw-contact [data-done]:not([hidden])").wait_for()
    [(body,)] = parley.sql(
        "SELECT m.body FROM conversations_message m JOIN accounts_tenant t ON t.id = m.tenant_id WHERE t.slug = 'away'"
    )
    assert body == "Please call me back <soon>"
    context.close()


def test_widget_is_hidden_when_nobody_is_online_and_the_tenant_says_so(parley, host, browser):
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    with page.expect_response(lambda r: "/widget/api/session" in r.url):
        page.goto(host + "/hidden.html")
    page.wait_for_timeout(300)
    assert page.locator("[data-parley]").count() == 0
    context.close()


@pytest.mark.parametrize(
    ("name", "locale", "viewport"),
    [
        ("ru", "ru-RU", VIEWPORT),
        ("pl", "pl-PL", VIEWPORT),
        ("375", "en-GB", PHONE),
        ("375-ru", "ru-RU", PHONE),
        ("375-pl", "pl-PL", PHONE),
    ],
)
def test_screenshots_in_each_language_and_on_a_phone(parley, host, browser, operator, name, locale, viewport):
    lang = locale[:2]
    context = browser.new_context(viewport=viewport, locale=locale, is_mobile=viewport["width"] < 500, has_touch=True)
    page = context.new_page()
    page.goto(host + "/index.html")
    wait_launcher(page)
    frame = open_widget(page)
    assert frame.evaluate("() => document.documentElement.lang") == lang
    start_chat(frame, {"ru": "Анна", "pl": "Zofia"}.get(lang, "Sam"))
    text = {"ru": "Здравствуйте! Есть доставка?", "pl": "Dzień dobry! Czy jest dostawa?"}.get(lang, "Hi! Delivery?")
    send(frame, text)
    conversation = operator.visitor_message(text)["conversation"]
    operator.send(type="accept", conversation=conversation)
    reply = {"ru": "Да, завтра.", "pl": "Tak, jutro."}.get(lang, "Yes, tomorrow.")
    operator.send(type="send", conversation=conversation, client_id=f"op-{name}", body=reply)
    bubble(frame, reply).wait_for()
    operator.send(type="typing", conversation=conversation, on=True)
    frame.locator("#pw-typing:not(:empty)").wait_for()
    if viewport["width"] < 500:
        assert frame.evaluate("() => innerWidth") == 375
    shot(page, name)
    context.close()


def test_page_view_without_chat_is_light(parley, host, browser):
    """What a host page pays when nobody chats: the loader, the config and one session call."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    sizes: dict[str, int] = {}

    def on_finished(request):
        if request.url.startswith(parley.base_url):
            sizes[re.sub(r"pk_[\w-]+", "<key>", request.url.split("?")[0])] = request.sizes()["responseBodySize"]

    page.on("requestfinished", on_finished)
    page.goto(host + "/index.html")
    wait_launcher(page)
    page.wait_for_timeout(500)
    assert set(sizes) == {
        f"{parley.base_url}/widget/loader.js",
        f"{parley.base_url}/widget/config/<key>.json",
        f"{parley.base_url}/widget/api/session",
    }
    assert sum(sizes.values()) < 8 * 1024
    context.close()


def test_preview_page_on_parleys_own_origin(parley, browser):
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.goto(f"{parley.base_url}/widget/preview/{parley.key}/")
    wait_launcher(page)
    frame = open_widget(page)
    frame.wait_for_selector("#pw-prechat:not([hidden])")
    context.close()


def test_a_site_the_tenant_does_not_allow_gets_no_widget(parley, host, browser):
    # The same page, served from 127.0.0.1 instead of the allowed "localhost".
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    # The session call is refused (403, unreadable cross-origin), so the loader draws nothing.
    with page.expect_event("requestfinished", lambda r: "/widget/api/session" in r.url or "/config/" in r.url):
        page.goto(host.replace("localhost", "127.0.0.1") + "/index.html")
    page.wait_for_timeout(500)
    assert page.locator("[data-parley]").count() == 0
    context.close()


def test_loader_ignores_messages_that_are_not_from_its_iframe(parley, host, browser):
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.goto(host + "/index.html")
    wait_launcher(page)
    page.evaluate("() => window.postMessage({parley: 1, type: 'unread', count: 5}, '*')")
    page.evaluate("() => window.postMessage({parley: 1, type: 'open'}, '*')")
    page.wait_for_timeout(300)
    assert page.locator("[data-parley][data-unread]").count() == 0
    assert not any("/widget/frame/" in f.url for f in page.frames)
    context.close()


@pytest.mark.parametrize("case", ["transform", "filter"])
@pytest.mark.parametrize("viewport", [VIEWPORT, {"width": 375, "height": 700}], ids=["desktop", "375"])
def test_the_launcher_stays_bottom_right_and_clickable_on_a_hostile_host_page(parley, host, browser, case, viewport):
    """Transform or filter on html and body, `all: unset`, rtl, a max-z overlay added later, strict CSP."""
    context = browser.new_context(viewport=viewport, locale="en-US")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(host + f"/corner-{case}.html")
    wait_launcher(page)
    page.wait_for_function("() => document.querySelectorAll('.overlay').length === 2")  # the page's late overlay
    page.mouse.wheel(0, 900)  # scrolled: fixed to the viewport, not to the transformed body
    page.wait_for_timeout(150)
    x, y = launcher_point(page)
    hit = page.evaluate(f"() => document.elementFromPoint({x}, {y})?.matches('[data-parley]')")
    assert hit, "the launcher is not at the bottom-right corner, or something covers it"
    # Nothing of ours anywhere else: not drawn at the top of the page or off to one side.
    assert not page.evaluate("() => document.elementFromPoint(40, 40)?.matches('[data-parley]')")
    if viewport["width"] > 480:
        shot(page, f"hostile-{case}-closed")
    page.mouse.click(x, y)
    frame = chat_frame(page)
    frame.locator("#pw-pre-name").wait_for()
    box = frame.frame_element().bounding_box()
    width, height = viewport["width"], viewport["height"]
    if width > 480:
        assert abs(box["x"] + box["width"] - (width - 20)) <= 1
        assert abs(box["y"] + box["height"] - (height - 88)) <= 1
    else:
        assert box["x"] == 0 and box["width"] == width  # a phone gets the whole screen
    assert not [e for e in errors if "Trusted Type" in e or "Content Security Policy" in e], errors
    shot(page, f"hostile-{case}" + ("" if width > 480 else "-375"))
    context.close()


def test_parleys_own_pages_run_under_a_strict_csp_without_a_violation(parley, browser):
    """Every kind of Parley page (public, operator, admin, widget) in Chromium: the policy holds, nothing is blocked."""
    context = browser.new_context(viewport=VIEWPORT, locale="en-US")
    context.add_cookies([{"name": "sessionid", "value": parley.session, "url": parley.base_url}])
    context.add_init_script(
        "window.__violations = [];"
        "document.addEventListener('securitypolicyviolation',"
        " e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    page = context.new_page()
    paths = [
        "/get-started/",
        "/app/",
        "/admin/",
        "/admin/accounts/tenant/",
        "/admin/accounts/department/add/",
        "/team/invite/",
        "/accounts/2fa/",
        f"/widget/preview/{parley.key}/",
    ]
    for path in paths:
        response = page.goto(parley.base_url + path)
        assert response.status == 200, path
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "unsafe-eval" not in policy
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.__violations") == [], path
    page.context.clear_cookies()
    for path in ["/accounts/login/", "/signup/"]:
        response = page.goto(parley.base_url + path)
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.__violations") == [], path
    context.close()
