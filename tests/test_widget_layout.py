"""The widget's layout in a real browser (headless Debian Chromium via Playwright), at four sizes:
a phone (360 x 740), the same phone with its keyboard open (360 x 400), a phone on its side
(740 x 360) and a desktop (1280 x 800).

At each size, on the start screen, with the menu open, on a question, on a question with
several answers, on the result and with the "End and clear" question open: every control can
be scrolled into view and is then fully on the screen, not covered and not cut off; every
control is at least 44 x 44 CSS px; controls are at least 8 px apart; nothing is wider than
the screen. The printout fits one A4 and one US Letter page.

Screenshots of the panel go to a temporary folder, or to the folder named by
PRESCREEN_SCREENSHOTS (`PRESCREEN_SCREENSHOTS=docs/screenshots`), where the repository keeps
them for the README and for review.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from browserkit import ROOT, LiveServer, browser
from test_widget_browser import Chat, run_to_result, strict_app

__all__ = ["browser"]   # the fixture, from tests/browserkit.py

pytestmark = pytest.mark.browser

SIZES = {"phone": (360, 740), "phone-keyboard": (360, 400), "landscape": (740, 360), "desktop": (1280, 800)}
MIN_SIZE = 44   # CSS px, each side of a control
MIN_GAP = 8     # CSS px between two controls
SLACK = 0.5     # sub-pixel rounding


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = LiveServer(strict_app(tmp_path_factory.mktemp("layout")))
    yield live
    live.stop()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = os.environ.get("PRESCREEN_SCREENSHOTS")
    path = (ROOT / folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _context(browser, size: str):
    width, height = SIZES[size]
    phone = width < 800
    return browser.new_context(viewport={"width": width, "height": height}, is_mobile=phone, has_touch=phone)


# Everything about the controls, measured in the page. A control is a button or the text box that is
# not hidden; each is scrolled into view in turn ("nearest": as a patient would scroll to it).
MEASURE = """() => {
  const panel = document.querySelector('.psw-panel');
  const shown = e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0 && !e.closest('[hidden]'); };
  const controls = [...document.querySelectorAll('.psw button, .psw input')].filter(shown);
  const layer = e => e.closest('.psw-menu') ? 'menu' : e.closest('.psw-modal') ? 'modal' : 'base';
  const open = document.querySelector('.psw-modal:not([hidden])') ? 'modal'
             : document.querySelector('.psw-menu:not([hidden])') ? 'menu' : 'base';
  const vw = innerWidth, vh = innerHeight, out = [];
  for (const e of controls) {
    if (layer(e) !== open) continue;   // under the open menu or question: not reachable now
    e.scrollIntoView({block: 'nearest', inline: 'nearest'});
    const r = e.getBoundingClientRect();
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    const scroller = e.closest('.psw-log');
    const box = scroller ? scroller.getBoundingClientRect() : {top: 0, bottom: vh, left: 0, right: vw};
    out.push({
      name: (e.getAttribute('aria-label') || e.textContent || e.placeholder || e.tagName).trim(),
      layer: layer(e), inLog: !!scroller,
      x: r.left, y: r.top, w: r.width, h: r.height,
      onScreen: r.left >= -0.5 && r.top >= -0.5 && r.right <= vw + 0.5 && r.bottom <= vh + 0.5,
      inScroller: r.top >= box.top - 0.5 && r.bottom <= box.bottom + 0.5 && r.left >= box.left - 0.5 && r.right <= box.right + 0.5,
      uncovered: !!hit && (hit === e || e.contains(hit)),
      textFits: e.tagName === 'INPUT' || (e.scrollWidth <= e.clientWidth + 1 && e.scrollHeight <= e.clientHeight + 1),
    });
  }
  const p = panel.getBoundingClientRect(), progress = document.querySelector('.psw-progress');
  return {controls: out, pageWidth: document.documentElement.scrollWidth, vw, vh,
          panel: {x: p.left, y: p.top, w: p.width, h: p.height},
          logFits: (l => l.scrollWidth <= l.clientWidth)(document.querySelector('.psw-log')),
          progressFits: !progress || progress.hidden || progress.scrollWidth <= progress.clientWidth};
}"""


def _gap(a: dict, b: dict) -> float:
    dx = max(0.0, b["x"] - (a["x"] + a["w"]), a["x"] - (b["x"] + b["w"]))
    dy = max(0.0, b["y"] - (a["y"] + a["h"]), a["y"] - (b["y"] + b["h"]))
    return max(dx, dy)


def check_layout(page, where: str) -> list[dict]:
    """Every reachable control visible, uncovered, whole, 44 x 44 or more (the gaps: _gaps_in_place)."""
    m = page.evaluate(MEASURE)
    problems = []
    assert m["pageWidth"] <= m["vw"], f"{where}: the page scrolls sideways ({m['pageWidth']} > {m['vw']})"
    panel = m["panel"]
    if panel["w"]:
        assert panel["x"] >= 0 and panel["y"] >= 0 and panel["x"] + panel["w"] <= m["vw"] + SLACK \
            and panel["y"] + panel["h"] <= m["vh"] + SLACK, f"{where}: the panel is off the screen: {panel}"
        assert m["logFits"], f"{where}: the messages scroll sideways"
        assert m["progressFits"], f"{where}: the question counter is cut off"
    controls = m["controls"]
    assert controls, f"{where}: no controls"
    for c in controls:
        if c["w"] < MIN_SIZE - SLACK or c["h"] < MIN_SIZE - SLACK:
            problems.append(f"{c['name']!r} is {c['w']:.0f} x {c['h']:.0f}")
        if not (c["onScreen"] and c["inScroller"]):
            problems.append(f"{c['name']!r} is cut off ({c['x']:.0f}, {c['y']:.0f}, {c['w']:.0f} x {c['h']:.0f})")
        if not c["uncovered"]:
            problems.append(f"{c['name']!r} is covered by something else")
        if not c["textFits"]:
            problems.append(f"{c['name']!r} does not show all its words")
    assert problems == [], f"{where}:\n  " + "\n  ".join(problems)
    return controls


def _gaps_in_place(page, where: str) -> None:
    """The gaps between the controls as they sit together on the screen (no scrolling between measures)."""
    boxes = page.evaluate("""() => [...document.querySelectorAll('.psw button, .psw input')]
        .filter(e => { const r = e.getBoundingClientRect(); return r.width > 0 && !e.closest('[hidden]')
                       && !e.closest('[inert]') })
        .map(e => { const r = e.getBoundingClientRect(), log = e.closest('.psw-log');
                    // in the scrolling messages, only the part on show can be tapped
                    const c = log ? log.getBoundingClientRect() : {top: -1e9, bottom: 1e9};
                    const top = Math.max(r.top, c.top), bottom = Math.min(r.bottom, c.bottom);
                    return {name: (e.getAttribute('aria-label') || e.textContent || e.tagName).trim(),
                            layer: e.closest('.psw-menu') ? 'menu' : e.closest('.psw-modal') ? 'modal' : 'base',
                            inLog: !!log, shown: bottom > top,
                            x: r.left, y: r.top, w: r.width, h: r.height,
                            clip: {x: r.left, y: top, w: r.width, h: Math.max(0, bottom - top)}}; })""")
    open_layer = "modal" if page.locator(".psw-modal:not([hidden])").count() else \
        "menu" if page.locator(".psw-menu:not([hidden])").count() else "base"
    boxes = [b for b in boxes if b["layer"] == open_layer]
    close = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            if a["inLog"] == b["inLog"]:
                gap = _gap(a, b)
            elif (a if a["inLog"] else b)["shown"]:   # a message button and a header or input control
                gap = _gap(a["clip"] if a["inLog"] else a, b["clip"] if b["inLog"] else b)
            else:
                continue
            if gap < MIN_GAP - SLACK:
                close.append((a["name"], b["name"], round(gap, 1)))
    assert close == [], f"{where}: controls closer than {MIN_GAP} px: {close}"


def _panel_shot(page, shots: Path, name: str) -> None:
    page.locator(".psw-log").evaluate("e => e.scrollTop = e.scrollTop")  # settle
    page.locator(".psw-panel").screenshot(path=str(shots / f"{name}.png"), type="png", animations="disabled")


def _launcher_name(page) -> str:
    return page.locator(".psw-launcher").evaluate("e => e.textContent")


@pytest.mark.parametrize("size", list(SIZES))
def test_every_control_fits_at_every_size(server, browser, shots, size):
    context = _context(browser, size)
    page = context.new_page()
    try:
        chat = Chat(page, server.url).goto()
        assert _launcher_name(page).startswith("Chat")
        check_layout(page, f"{size}, the page with the launcher")
        chat.open()
        page.wait_for_timeout(100)
        _gaps_in_place(page, f"{size}, start")
        check_layout(page, f"{size}, start")
        page.locator(".psw-log").evaluate("e => e.scrollTop = 0")
        _panel_shot(page, shots, f"{size}-start")

        page.get_by_role("button", name="Menu", exact=True).click()
        _gaps_in_place(page, f"{size}, menu open")
        check_layout(page, f"{size}, menu open")
        page.keyboard.press("Escape")

        chat.tap("Start")
        header = page.locator(".psw-head").bounding_box()["height"]
        assert header <= 64, f"{size}: after Start the header is one line ({header:.0f} px)"
        chat.type("54")
        chat.tap("Yes, the diffuse type")
        _gaps_in_place(page, f"{size}, a question")
        check_layout(page, f"{size}, a question")
        page.locator(".psw-log").evaluate("e => e.scrollTop = e.scrollHeight")
        _panel_shot(page, shots, f"{size}-question")

        chat.tap("Yes")   # "Do you have any of these?": several answers
        page.locator(".psw-log").get_by_role("button", name="Skin getting thicker or tighter").click()
        page.locator(".psw-log").get_by_role("button", name="Sores on fingers or toes").click()
        _gaps_in_place(page, f"{size}, several answers")
        check_layout(page, f"{size}, several answers")
        page.locator(".psw-log").evaluate("e => e.scrollTop = e.scrollHeight")
        _panel_shot(page, shots, f"{size}-several-answers")
        page.locator(".psw-log").get_by_role("button", name="Sores on fingers or toes").click()
        before = chat.bot_count()
        page.locator(".psw-log").get_by_role("button", name="Done", disabled=False).click()
        chat.wait_reply(before)

        run_to_result(chat)
        _gaps_in_place(page, f"{size}, the result")
        check_layout(page, f"{size}, the result")
        # the result as the patient first sees it: its first lines
        page.locator(".psw-log").evaluate(
            "e => { const r = [...e.querySelectorAll('.psw-result')].pop(); e.scrollTop = r.offsetTop - 8; }")
        _panel_shot(page, shots, f"{size}-result")

        chat.menu("End and clear")
        _gaps_in_place(page, f"{size}, are you sure?")
        check_layout(page, f"{size}, are you sure?")
        if size == "phone":
            _panel_shot(page, shots, "phone-end-and-clear")
        page.get_by_role("button", name="No, keep my answers").click()
        assert chat.errors == [], chat.errors
    finally:
        context.close()


def _gray_png(page, png: bytes, path: Path) -> None:
    """Save a screenshot of black text on white as a 16-grey PNG (a quarter of the bytes): the page decodes
    it (a canvas), this encodes it (no imaging library needed)."""
    import base64
    import struct
    import zlib
    width, height, b64 = page.evaluate("""async b64 => {
      const img = new Image(); img.src = 'data:image/png;base64,' + b64; await img.decode();
      const c = document.createElement('canvas'); c.width = img.width; c.height = img.height;
      const g = c.getContext('2d'); g.drawImage(img, 0, 0);
      const p = g.getImageData(0, 0, c.width, c.height).data, grey = new Uint8Array(c.width * c.height);
      for (let i = 0; i < grey.length; i++) grey[i] = (p[4 * i] * 299 + p[4 * i + 1] * 587 + p[4 * i + 2] * 114) / 1000;
      let s = ''; for (let i = 0; i < grey.length; i += 8192) s += String.fromCharCode(...grey.subarray(i, i + 8192));
      return [c.width, c.height, btoa(s)];
    }""", base64.b64encode(png).decode())
    grey = base64.b64decode(b64)
    rows = bytearray()
    for y in range(height):
        line = [(v * 15 + 127) // 255 for v in grey[y * width:(y + 1) * width]] + [0]
        rows.append(0)
        rows += bytes((line[x] << 4) | line[x + 1] for x in range(0, width, 2))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 4, 0, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(bytes(rows), 9)) + chunk(b"IEND", b""))


def _pdf_pages(pdf: bytes) -> int:
    try:
        from pypdf import PdfReader
    except ImportError:
        return len(re.findall(rb"/Type\s*/Page(?!s)", pdf))
    import io
    return len(PdfReader(io.BytesIO(pdf)).pages)


def test_the_printout_fits_one_page(server, browser, shots):
    """A4 and US Letter, with the browser's usual margins: one page each, the longest result included."""
    context = _context(browser, "desktop")
    page = context.new_page()
    try:
        chat = Chat(page, server.url).goto().open()
        chat.tap("Start")
        chat.type("54")
        # the longest printout: every question asked and answered "Not sure", so every criterion is a reason
        for _ in range(40):
            if chat.result_text():
                break
            choices = chat.choices()
            if "Not sure" in choices:
                chat.tap("Not sure")
            elif "That's right, show my result" in choices:
                chat.tap("That's right, show my result")
            else:
                chat.type("not sure")
        assert "needs to check" in chat.result_text()
        page.evaluate("() => { window.print = () => {} }")
        page.get_by_role("button", name="Print or save my result").click()
        page.emulate_media(media="print")
        view = page.locator("#psw-print")
        assert view.is_visible()
        page.set_viewport_size({"width": 720, "height": 1000})   # about the width of the printed page
        _gray_png(page, view.screenshot(type="png"), shots / "printout.png")
        for paper in ("A4", "Letter"):
            # as window.print() leaves it (page.pdf() fires "afterprint", which ends the print view)
            page.evaluate("() => document.documentElement.classList.add('psw-printing')")
            assert view.is_visible() and view.evaluate("e => e.offsetHeight") > 500
            pdf = page.pdf(format=paper, margin={"top": "12mm", "bottom": "12mm", "left": "12mm", "right": "12mm"})
            assert _pdf_pages(pdf) == 1, f"the printout takes {_pdf_pages(pdf)} {paper} pages"
    finally:
        context.close()
