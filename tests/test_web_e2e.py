"""The web page in real headless Chromium against the real server on loopback.

One person's whole visit: sign in with a key, upload a real clip and real speech, pick a ~1 s range,
render in lite at a low fps, watch the result play beside the input, find it in the history, delete it.
Every view is also checked at phone width (no sideways scrolling) and for unnamed controls; with
OPENLIPSYNC_SCREENSHOTS=<folder> set, each view is saved there at desktop and phone width
(docs/screenshots/ holds the committed ones).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from openlipsync.jobs.accounts.credits import RATES, estimate_frames
from tests.conftest import shared_media
from tests.server import Server, running_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SHOTS = os.environ.get("OPENLIPSYNC_SCREENSHOTS")
RENDER_TIMEOUT_MS = 240_000

# Counts every control on screen that a screen reader would announce without a name.
UNNAMED_CONTROLS_JS = """() => [
  ...document.querySelectorAll('input, button, select, textarea, a[href], video, audio')]
  .filter((el) => el.checkVisibility() || (el.type === 'file' && el.closest('label').checkVisibility()))
  .filter((el) => !(el.labels?.length || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')
                    || el.textContent.trim()))
  .map((el) => el.outerHTML.slice(0, 80))"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("web-e2e")) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        pytest.fail(f"missing {CHROMIUM}: install Debian's chromium (apt-get install -y chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=DESKTOP)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def check_view(page: Page, name: str) -> None:
    """Phone width must not scroll sideways, no control may lack a name; saves screenshots on request."""
    assert page.evaluate(UNNAMED_CONTROLS_JS) == [], f"{name}: controls without an accessible name"
    page.mouse.move(0, DESKTOP["height"] - 1)  # no hover state in the pictures
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=f"{SHOTS}/{name}-desktop.png", full_page=True)
    page.set_viewport_size(PHONE)
    try:
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{name}: the page is {width}px wide at phone width"
        if SHOTS:
            page.screenshot(path=f"{SHOTS}/{name}-phone.png", full_page=True)
    finally:
        page.set_viewport_size(DESKTOP)


def sign_in(page: Page, server: Server, key: str) -> None:
    page.goto(server.url)
    key_field = page.get_by_label("API key")
    key_field.fill(key)
    key_field.press("Enter")


def video_state(page: Page, element_id: str) -> dict:
    return page.evaluate(
        "(id) => { const v = document.getElementById(id);"
        " return {ready: v.readyState, duration: v.duration, time: v.currentTime, paused: v.paused}; }",
        element_id,
    )


def test_sign_in_render_play_history_delete(server: Server, page: Page) -> None:
    api = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {server.key}"}, timeout=30)
    balance_before = api.get("/v1/account").json()["credits"]
    puts: list[dict[str, str]] = []
    page.on("request", lambda request: request.method == "PUT" and puts.append(request.headers))
    creates: list[dict] = []
    page.on("request", lambda request: request.url.endswith("/v1/lip-sync") and creates.append(
        request.post_data_json))

    page.goto(server.url)
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    check_view(page, "1-sign-in")
    page.get_by_label("API key").fill(server.key)
    page.get_by_label("API key").press("Enter")
    expect(page.get_by_role("heading", name="New lip sync")).to_be_visible()
    assert page.evaluate("localStorage.getItem('openlipsync.apiKey')") == server.key
    expect(page.locator("#balance")).to_have_text(re.compile(rf"^{balance_before:,} credits$"))

    page.get_by_label("Video file").set_input_files(shared_media("woman_flags.mp4"))
    page.get_by_label("Audio file").set_input_files(shared_media("speech_en_a.wav"))
    expect(page.locator("#timeline")).to_be_visible()
    expect(page.locator("#face-status")).to_contain_text("Speaker: automatic")
    # The clip's length (5 s of video, a little more of sound), read by the preview.
    expect(page.get_by_label("End (s)")).to_have_value(re.compile(r"^5(\.0\d)?$"))
    expect(page.locator("#audio-duration")).to_have_text("Length 8 s")

    # The range by keyboard on the start handle (25 steps of 0.04 s) and by typing the end.
    start_handle = page.get_by_label("Range start")
    start_handle.focus()
    for _ in range(25):
        start_handle.press("ArrowRight")
    expect(page.get_by_label("Start (s)")).to_have_value("1")
    page.get_by_label("End (s)").fill("2")
    expect(page.get_by_label("Range end")).to_have_value("2")
    expect(page.locator("#range-length")).to_have_text("Length 1 s")
    for mode, cost in (("lite", 30), ("standard", 30), ("pro", 60)):
        expect(page.locator(f"[data-cost={mode}]")).to_have_text(f"{cost} credits")
    expect(page.locator("#estimate-credits")).to_have_text("30 credits")
    page.get_by_label("Max fps").fill("5")
    page.get_by_label("Name").fill("Flags, one second")
    check_view(page, "2-new-lip-sync")

    page.get_by_role("button", name="Start lip sync").click()
    expect(page.get_by_role("heading", name="Flags, one second")).to_be_visible()
    project_id = page.evaluate("location.hash").removeprefix("#/p/")
    assert api.get(f"/v1/video-projects/{project_id}").json()["generation_mode"] == "lite"
    assert len(creates) == 1 and "face" not in creates[0], creates  # no click: the server chooses
    expect(page.locator("#project-meta")).to_contain_text("SpeakerAutomatic")
    for kind in ("video", "audio"):
        assert page.locator(f"#{kind}-progress").evaluate("bar => bar.value") == 1
    assert len(puts) == 2 and all("content-type" not in headers for headers in puts), puts
    expect(page.locator("#render-progress-box")).to_be_visible()  # queued or rendering, live
    check_view(page, "3-rendering")

    result = page.locator("#result-video")
    expect(result).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    project = api.get(f"/v1/video-projects/{project_id}").json()
    assert project["status"] == "complete"
    assert project["credits_charged"] == 5  # settled: 1 s at the 5 fps limit, lite
    expect(page.locator("#project-meta")).to_contain_text("Complete")
    page.wait_for_function("document.getElementById('result-video').readyState >= 1")
    assert video_state(page, "result-video")["duration"] == pytest.approx(1.0, abs=0.25)

    page.get_by_role("button", name="Play side by side").click()
    page.wait_for_function("document.getElementById('result-video').currentTime > 0.4", timeout=15_000)
    played, beside = video_state(page, "result-video"), video_state(page, "input-video")
    assert not played["paused"] and not beside["paused"]
    assert beside["time"] == pytest.approx(1.0 + played["time"], abs=0.35)  # the input plays its range
    result.evaluate("video => video.pause()")
    expect(page.locator("#input-video")).to_have_js_property("paused", True)  # the input follows
    check_view(page, "4-result")

    download = page.get_by_role("link", name="Download")
    # The same output; each GET signs its links afresh, so only the query differs.
    assert download.get_attribute("href").split("?")[0] == project["downloads"][0]["url"].split("?")[0]
    fetched = page.request.get(download.get_attribute("href"))
    assert fetched.ok and fetched.body()[4:8] == b"ftyp"
    balance_after = api.get("/v1/account").json()["credits"]
    assert balance_after == balance_before - project["credits_charged"]
    expect(page.locator("#balance")).to_have_text(f"{balance_after:,} credits")

    page.get_by_role("navigation").get_by_role("link", name="History").click()
    row = page.locator(f"tr[data-project-id='{project_id}']")
    expect(row).to_be_visible()
    expect(row.locator("[data-label=Status]")).to_have_text("Complete")
    expect(row.locator("[data-label=Mode]")).to_have_text("Lite")
    expect(row.locator("[data-label=Duration]")).to_have_text("1 s")
    expect(row.locator("[data-label=Credits]")).to_have_text(f"{project['credits_charged']} credits")
    expect(row.locator("[data-label=Created]")).to_have_text(re.compile(r"\d{4}"))
    row_download = row.get_by_role("link", name="Download Flags, one second")
    expect(row_download).to_have_attribute("href", re.compile("^http"))
    check_view(page, "5-history")

    row.get_by_role("button", name="Delete Flags, one second").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    check_view(page, "6-delete")
    dialog.get_by_role("button", name="Delete").click()
    expect(row).to_have_count(0)
    expect(page.locator("#history-empty")).to_be_visible()
    assert api.get(f"/v1/video-projects/{project_id}").status_code == 404

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert page.evaluate("localStorage.getItem('openlipsync.apiKey')") is None


def test_api_errors_show_beside_their_field(server: Server, page: Page, tmp_path: Path) -> None:
    sign_in(page, server, "not-a-key-of-this-server")
    expect(page.locator("#api-key-error")).to_have_text("This key is not valid on this server.")
    expect(page.get_by_label("API key")).to_have_attribute("aria-invalid", "true")
    check_view(page, "0-sign-in-error")

    poor_key = server.create_key(credits=10)
    page.get_by_label("API key").fill(poor_key)
    page.get_by_label("API key").press("Enter")
    expect(page.locator("#balance")).to_have_text("10 credits")

    notes = tmp_path / "notes.txt"
    notes.write_text("not a video")
    page.get_by_label("Video file").set_input_files(notes)
    page.get_by_label("Audio file").set_input_files(shared_media("speech_en_a.wav"))
    page.get_by_label("End (s)").fill("1")
    page.get_by_role("button", name="Start lip sync").click()
    expect(page.locator("#video-error")).to_contain_text("txt")  # the server's 422 on the extension
    expect(page.get_by_label("Video file")).to_be_focused()
    expect(page.locator("#submit-error")).to_be_empty()

    page.get_by_label("Video file").set_input_files(shared_media("woman_flags.mp4"))
    expect(page.get_by_label("End (s)")).to_have_value(re.compile(r"^5(\.0\d)?$"))
    page.get_by_label("End (s)").fill("1")  # 30 credits against a balance of 10: the server says 402
    expect(page.locator("#estimate")).to_have_class(re.compile(r"\bshort\b"))
    page.get_by_role("button", name="Start lip sync").click()
    expect(page.locator("#submit-error")).to_contain_text("Not enough credits")
    expect(page.locator("#video-error")).to_be_empty()
    check_view(page, "2-new-lip-sync-errors")


def test_estimate_is_the_servers_charge(server: Server, page: Page) -> None:
    """The page's live estimate and the server's create-time charge are one rule, float edges included."""
    page.goto(server.url)
    ranges = [(s / 100, e / 100) for s in range(0, 300, 7) for e in range(s + 10, 400, 13)]
    ranges += [(0.1, 1.1), (0.7, 1.0), (1.1, 2.2), (0.0, 0.1), (3.3, 3.4), (0.01, 0.02)]
    page_costs = page.evaluate(
        """async (ranges) => {
          const { estimateCredits } = await import('./format.js');
          return ranges.map(([s, e]) => ['lite', 'standard', 'pro'].map((m) => estimateCredits(s, e, m)));
        }""",
        ranges,
    )
    modes = ("lite", "standard", "pro")
    server_costs = [[estimate_frames(s, e) * RATES[m] for m in modes] for s, e in ranges]
    assert page_costs == server_costs


def test_clicking_a_face_in_the_preview_picks_who_speaks(server: Server, page: Page) -> None:
    """A click on the preview is a point in the video's own pixels (through the letterbox of the
    scaled preview) at the preview's current time; it is sent as ``face``; "Automatic speaker"
    takes it back."""
    creates: list[dict] = []
    page.on("request", lambda request: request.url.endswith("/v1/lip-sync") and creates.append(
        request.post_data_json))
    sign_in(page, server, server.key)
    page.get_by_label("Video file").set_input_files(shared_media("woman_flags.mp4"))  # 590 x 590
    page.get_by_label("Audio file").set_input_files(shared_media("speech_en_a.wav"))
    expect(page.locator("#timeline")).to_be_visible()
    status, marker = page.locator("#face-status"), page.locator("#face-marker")
    expect(status).to_contain_text("Speaker: automatic")
    expect(marker).to_be_hidden()
    expect(page.get_by_role("button", name="Automatic speaker")).to_be_hidden()

    preview = page.get_by_label("Video preview")
    preview.evaluate("v => { v.currentTime = 1.2; }")
    page.wait_for_function("Math.abs(document.getElementById('video-preview').currentTime - 1.2) < 0.01")
    box = preview.bounding_box()
    scale = min(box["width"] / 590, box["height"] / 590)  # object-fit: contain
    left, top = (box["width"] - 590 * scale) / 2, (box["height"] - 590 * scale) / 2
    assert left > 10, "the square clip should be letterboxed in the wide preview"
    click = {"x": left + 300 * scale, "y": top + 270 * scale}  # her face: (300, 270) in the video
    preview.click(position=click)
    expect(marker).to_be_visible()
    expect(status).to_contain_text(re.compile(r"the person at \d+, \d+ px \(at 1\.2 s"))
    # The browser clicks on whole CSS pixels, a preview pixel is 1/scale video pixels.
    x, y = (int(n) for n in re.search(r"at (\d+), (\d+) px", status.text_content()).groups())
    assert abs(x - 300) <= 1 / scale + 0.5 and abs(y - 270) <= 1 / scale + 0.5, (x, y, scale)
    mark = marker.bounding_box()
    centre = (mark["x"] + mark["width"] / 2, mark["y"] + mark["height"] / 2)
    assert centre == pytest.approx((box["x"] + click["x"], box["y"] + click["y"]), abs=2.5)
    check_view(page, "2-new-lip-sync-face")

    # A click on the black bar beside the picture picks nothing; "Automatic speaker" forgets the pick.
    preview.click(position={"x": left / 2, "y": box["height"] / 2})
    expect(status).to_contain_text(f"{x}, {y} px")
    page.get_by_role("button", name="Automatic speaker").click()
    expect(marker).to_be_hidden()
    expect(status).to_contain_text("Speaker: automatic")
    expect(status).to_be_focused()

    preview.click(position=click)
    expect(marker).to_be_visible()
    page.get_by_label("End (s)").fill("1")
    page.get_by_label("Max fps").fill("5")
    page.get_by_label("Name").fill("The face at 300, 270")
    page.get_by_role("button", name="Start lip sync").click()
    expect(page.get_by_role("heading", name="The face at 300, 270")).to_be_visible()
    assert len(creates) == 1 and creates[0]["face"] == {"x": x, "y": y, "time": 1.2}, creates
    project_id = page.evaluate("location.hash").removeprefix("#/p/")
    with server.client() as api:
        assert api.get(f"/v1/video-projects/{project_id}").json()["face"] == {"x": x, "y": y, "time": 1.2}
        expect(page.locator("#project-meta")).to_contain_text(f"SpeakerThe face at {x}, {y} px, at 1.2 s")
        assert api.delete(f"/v1/video-projects/{project_id}").status_code == 204  # no need to render it
