"""The playground end to end in a headless Chromium: pick the model, type a prompt, colour by a
gate, generate, see the text stream in coloured, and save a screenshot. Skipped, saying why,
where the playwright package or a Chromium is missing (``make e2e`` installs both).

``RNNKIT_E2E_RUN`` serves another run instead of the tiny one, ``RNNKIT_E2E_PROBE`` picks the
unit (``what,layer,unit``), and ``RNNKIT_E2E_SHOT`` keeps the screenshot there
(docs/img/playground.png: the main job's run, ``c,0,83``, a cell that counts the characters of
the line)."""

import os
import shutil
from pathlib import Path

import pytest

from serve_fixtures import ServerProcess

CHROMIUM = next((p for p in (os.environ.get("RNNKIT_CHROMIUM"), shutil.which("chromium"),
                             "/usr/bin/chromium", shutil.which("chromium-browser"))
                 if p and Path(p).exists()), None)
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="the playwright package is not installed (make e2e)")
    if CHROMIUM is None:
        pytest.skip("no Chromium found (apt-get install chromium, or make e2e)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def test_the_playground_streams_coloured_text(browser, tiny_run, tmp_path):
    run = os.environ.get("RNNKIT_E2E_RUN") or str(tiny_run)
    prompt = "ROMEO:\n" if os.environ.get("RNNKIT_E2E_RUN") else "elma "
    server = ServerProcess.serve(run)
    try:
        page = browser.new_page(viewport={"width": 1000, "height": 760})
        page.goto(server.url + "/")
        page.wait_for_selector("#model option", state="attached")
        assert page.input_value("#model") == Path(run).resolve().name
        page.fill("#prompt", prompt)
        page.fill("#length", "400")
        page.fill("#seed", "1")
        what, layer, unit = os.environ.get("RNNKIT_E2E_PROBE", "c,0,7").split(",")
        page.select_option("#what", what)
        page.fill("#layer", layer)
        page.fill("#unit", unit)
        page.click("#go")
        page.wait_for_function("document.querySelector('#status').textContent"
                               ".startsWith('done')", timeout=30000)
        spans = page.locator("#output span:not(.prompt)")
        assert spans.count() > 50
        coloured = page.evaluate("[...document.querySelectorAll('#output span[title]')]"
                                 ".filter(s => s.style.background).length")
        assert coloured > 50
        text = page.inner_text("#output")
        assert text.startswith(prompt.strip()) and len(text) > len(prompt) + 50
        assert "400 tokens" in page.inner_text("#status")
        shot = Path(os.environ.get("RNNKIT_E2E_SHOT") or tmp_path / "playground.png")
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
    finally:
        server.stop()
