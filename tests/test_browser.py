"""The series' widgets in a real browser: JupyterLab on 127.0.0.1 driven by Debian's Chromium via Playwright.

nbval runs every cell, but it never moves a slider or draws a stroke, so a broken widget front end (a missing
JupyterLab extension, a model/view mismatch) would pass it. This test:

* prepares small copies of notebooks 05 and 10 (``facelib.series.prepare --small``; 10 gets a weights folder
  of small random models written like ``facelib.pretrained`` writes the real ones) in a temporary folder;
* starts JupyterLab on 127.0.0.1 (a free port, a random token, its own settings and workspace folders) with
  this checkout's ``facelib`` on ``PYTHONPATH``;
* drives the Chromium of Debian's ``chromium`` package (never Playwright's own download) with Playwright:
  05: Run All, drag the layer slider of the feature explorer with the mouse, assert the feature map changed;
  10: Run All, clear, draw a stroke on the canvas with the mouse, assert that every method's picture changed
  (the Context Encoder after the "centre square" button: it paints nothing else), and that no cell shows an
  error. Screenshots go to ``build/browser/``.

Everything is bounded: explicit timeouts on every wait, and a watchdog that kills the server and the browser
after :data:`DEADLINE_S`. The browser may only talk to 127.0.0.1 (every other request is aborted), and
JupyterLab's news and update checks are switched off. Skipped, with one line, when no Chromium is installed
(``apt-get install chromium``; ``.ci/run`` does it) or Playwright is missing (``pip install -e '.[dev]'``).

    pytest -m browser -s          # -s shows the timings
"""
from __future__ import annotations

import io
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from facelib import paint, series
from facelib.baselines import BASELINES

pytestmark = pytest.mark.browser

ROOT = series.repo_root()
SHOTS = ROOT / "build" / "browser"
DEADLINE_S = 600  # the whole test; the watchdog kills the server and the browser after it
METHODS = (*paint.shipped_models(), *BASELINES)  # the columns notebook 10 paints, with small stand-in weights
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """``$FACELIB_CHROMIUM``, else the first Chromium on PATH (Debian's package installs /usr/bin/chromium)."""
    env = os.environ.get("FACELIB_CHROMIUM")
    if env:
        return env if Path(env).is_file() else None
    return next((p for p in map(shutil.which, CHROMIUM_NAMES) if p), None)


CHROMIUM = find_chromium()
if CHROMIUM is None:  # one line for the whole module
    pytest.skip("no Chromium found (apt-get install chromium, or set FACELIB_CHROMIUM): browser tests skipped",
                allow_module_level=True)
pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install -e '.[dev]')")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_settings(folder: Path) -> None:
    """JupyterLab user settings: no news or update checks (no network), every cell rendered (no windowing)."""
    def put(plugin: str, values: dict) -> None:
        path = folder / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))

    put("@jupyterlab/apputils-extension/notification", {"fetchNews": "false", "checkForUpdates": False})
    put("@jupyterlab/notebook-extension/tracker", {"windowingMode": "none"})


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server over prepared copies of 05 and 10: yields (base URL, token, folder)."""
    chromium = CHROMIUM
    sys.path.insert(0, str(Path(__file__).parent))
    from paint_weights import write_small_weights

    work = tmp_path_factory.mktemp("lab")
    weights = write_small_weights(work / "weights", size=64)
    series.prepare(work / "nb", small=True, data="synthetic", only="05", extra={"n_images": 2})
    series.prepare(work / "nb", small=True, only="10", extra={"weights_dir": str(weights)})
    _write_settings(work / "settings")
    port, token = _free_port(), secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if k not in ("FACELIB_DATA", "JUPYTER_CONFIG_DIR")}
    env.update(PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
               JUPYTERLAB_SETTINGS_DIR=str(work / "settings"), JUPYTERLAB_WORKSPACES_DIR=str(work / "workspaces"),
               JUPYTER_RUNTIME_DIR=str(work / "runtime"), MPLBACKEND="module://matplotlib_inline.backend_inline",
               OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    config = work / "jupyter_lab_config.py"
    config.write_text("\n".join([
        "c.ServerApp.ip = '127.0.0.1'", f"c.ServerApp.port = {port}", "c.ServerApp.port_retries = 0",
        "c.ServerApp.open_browser = False", "c.ServerApp.allow_root = True",  # CI runs as root
        f"c.ServerApp.root_dir = {str(work / 'nb')!r}", f"c.IdentityProvider.token = {token!r}",
        "c.LabApp.news_url = None", "c.LabApp.extension_manager = 'readonly'",  # no requests to the internet
        "c.LabApp.check_for_updates_class = 'jupyterlab.NeverCheckForUpdate'",
        "c.LabApp.expose_app_in_browser = True",  # window.jupyterapp: Run All and the cells' outputs
    ]))
    log = open(work / "jupyterlab.log", "w")
    server = subprocess.Popen([sys.executable, "-m", "jupyterlab", f"--config={config}"], cwd=work / "nb",
                              env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    watchdog = threading.Timer(DEADLINE_S, lambda: os.killpg(server.pid, signal.SIGKILL))
    watchdog.daemon = True
    watchdog.start()
    try:
        start, ready = time.monotonic(), False
        while time.monotonic() - start < 120 and server.poll() is None:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5) as r:
                    ready = r.status == 200
                    break
            except OSError:
                time.sleep(0.5)
        if not ready:
            log.flush()
            pytest.fail(f"JupyterLab did not start within 120 s:\n{(work / 'jupyterlab.log').read_text()[-3000:]}")
        print(f"\nJupyterLab up in {time.monotonic() - start:.1f} s on {base}", flush=True)
        yield {"base": base, "token": token, "work": work, "chromium": chromium}
    finally:
        watchdog.cancel()
        try:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(server.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            server.wait(timeout=10)
        log.close()


@pytest.fixture(scope="module")
def browser(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=lab["chromium"], headless=True, timeout=60_000,
            args=["--no-first-run", "--disable-background-networking", "--disable-component-update",
                  "--disable-default-apps", "--disable-sync", "--disable-domain-reliability",
                  "--disable-features=Translate,MediaRouter,OptimizationHints", "--metrics-recording-only",
                  "--no-default-browser-check", "--disable-dev-shm-usage", "--renderer-process-limit=2"])
        watchdog = threading.Timer(DEADLINE_S, b.close)
        watchdog.daemon = True
        watchdog.start()
        try:
            yield b
        finally:
            watchdog.cancel()
            b.close()


def _local_only(route) -> None:
    """Abort every request that does not go to 127.0.0.1 (the test must not reach the network)."""
    url = route.request.url
    if re.match(r"^(https?|wss?)://127\.0\.0\.1(:\d+)?/", url) or url.startswith(("data:", "blob:")):
        route.continue_()
    else:
        print(f"blocked a request to {url}", flush=True)
        route.abort()


def _open(browser, lab, name: str):
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    page.set_default_timeout(60_000)
    page.route("**/*", _local_only)
    # ?reset: a fresh workspace, so that a notebook opened by an earlier test is not restored beside this one
    page.goto(f"{lab['base']}/lab/tree/{name}?reset&token={lab['token']}", timeout=120_000)
    # window.__nb: the notebook panel of `name` (not whichever tab happens to be active)
    page.wait_for_function("""(name) => {
        if (!window.jupyterapp) return false;
        for (const w of window.jupyterapp.shell.widgets('main')) {
            if (w.context && w.context.path === name && w.sessionContext && w.sessionContext.session
                && w.sessionContext.session.kernel) { window.__nb = w; return true; }
        }
        return false;
    }""", arg=name, timeout=120_000, polling=250)
    page.wait_for_function("() => window.__nb.sessionContext.kernelDisplayStatus === 'idle'", timeout=120_000)
    return page


def _run_all(page, timeout_s: float) -> float:
    """Run All Cells and wait until every code cell has an execution count and the kernel is idle."""
    start = time.monotonic()
    page.evaluate("() => { window.jupyterapp.shell.activateById(window.__nb.id);"
                  " return window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    page.wait_for_function("""() => {
        const w = window.__nb;
        const cells = w.content.model.cells;
        let pending = false, failed = false;
        for (let i = 0; i < cells.length; i++) {
            const c = cells.get(i);
            if (c.type !== 'code') continue;
            if (c.executionCount === null || c.executionCount === undefined) pending = true;
            for (let j = 0; j < c.outputs.length; j++) failed = failed || c.outputs.get(j).type === 'error';
        }
        // Run All stops at the first error: then the later cells never get a count
        return (failed || !pending) && w.sessionContext.kernelDisplayStatus === 'idle';
    }""", timeout=timeout_s * 1000, polling=500)
    return time.monotonic() - start


def _errors(page) -> list[str]:
    """Error outputs of any cell, and widget views that failed to render."""
    found = page.evaluate("""() => {
        const cells = window.__nb.content.model.cells, errors = [];
        for (let i = 0; i < cells.length; i++) {
            const c = cells.get(i);
            if (c.type !== 'code') continue;
            for (let j = 0; j < c.outputs.length; j++) {
                const o = c.outputs.get(j);
                if (o.type === 'error') errors.push(`cell ${i}: ${o.toJSON().ename}: ${o.toJSON().evalue}`);
            }
        }
        return errors;
    }""")
    text = page.locator(".jp-Notebook").inner_text()
    found += [m for m in ("Error displaying widget", "Error rendering", "Failed to load model class",
                          "Model not found") if m in text]
    return found


def _pixels(locator):
    """The element as the browser paints it, an RGB numpy array (so "changed" means changed on screen)."""
    import numpy as np
    from PIL import Image

    from playwright.sync_api import Error

    for attempt in range(20):  # a widget output that redraws replaces its <img>: look again
        try:
            locator.scroll_into_view_if_needed(timeout=10_000)
            png = locator.screenshot(animations="disabled", timeout=10_000)
            return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
        except Error:
            if attempt == 19:
                raise
            time.sleep(0.5)


def _stable_pixels(locator, timeout_s: float = 15, settle_s: float = 0.5):
    """The element's pixels once they have not changed for ``settle_s`` seconds, looked at every half second (the
    render has settled; on a loaded machine a new picture can take more than half a second to show)."""
    end, last, since = time.monotonic() + timeout_s, _pixels(locator), time.monotonic()
    while time.monotonic() < end:
        time.sleep(0.5)
        now = _pixels(locator)
        if _differs(now, last):
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= settle_s:
            return now
    return last


def _wait_changed(locator, before, timeout_s: float = 30):
    """Poll the element's pixels until they differ from ``before``; returns the new pixels (or the last seen)."""
    end, now = time.monotonic() + timeout_s, before
    while time.monotonic() < end:
        now = _pixels(locator)
        if _differs(now, before):
            return now
        time.sleep(0.25)
    return now


def _differs(a, b, border: int = 2) -> bool:
    """Whether two screenshots of one element show different pictures, judged on their common interior: the
    outer ``border`` pixels are left out because a scroll between the two looks can move the element's box by a
    fraction of a pixel, which changes only its edge row or column (seen: a 129-px column of 200 vs 255)."""
    h, w = min(a.shape[0], b.shape[0]) - border, min(a.shape[1], b.shape[1]) - border
    if h <= border or w <= border:
        return a.shape != b.shape or bool((a != b).any())
    return bool((a[border:h, border:w] != b[border:h, border:w]).any())


def test_05_layer_slider_redraws_the_feature_map(lab, browser):
    page = _open(browser, lab, "05_vgg_features.ipynb")
    try:
        seconds = _run_all(page, timeout_s=300)
        print(f"05: Run All in {seconds:.1f} s", flush=True)
        assert not _errors(page), _errors(page)
        explorer = page.locator(".widget-interact").first
        explorer.wait_for(state="visible", timeout=60_000)
        picture = explorer.locator(".widget-output img, .jp-OutputArea-output img").first
        picture.wait_for(state="visible", timeout=60_000)
        before = _stable_pixels(picture)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "05_before.png"))
        slider = explorer.locator(".widget-hslider").filter(has_text="layer").first
        handle = slider.locator(".noUi-handle").first
        handle.scroll_into_view_if_needed()
        box, track = handle.bounding_box(), slider.locator(".noUi-target").first.bounding_box()
        y = box["y"] + box["height"] / 2
        page.mouse.move(box["x"] + box["width"] / 2, y)
        page.mouse.down()
        page.mouse.move(track["x"] + track["width"] * 0.5, y, steps=8)  # the middle layer of five
        page.mouse.up()
        readout = slider.locator(".widget-readout").first.inner_text()
        after = _wait_changed(picture, before)
        page.screenshot(path=str(SHOTS / "05_after_slider.png"))
        assert readout.strip() and "1 (relu1_1)" not in readout, f"the layer slider did not move: {readout!r}"
        assert _differs(before, after), "moving the layer slider did not change the feature map"
        assert not _errors(page), _errors(page)
    finally:
        page.close()


def test_10_stroke_updates_every_method(lab, browser):
    page = _open(browser, lab, "10_paint_a_hole.ipynb")
    try:
        seconds = _run_all(page, timeout_s=300)
        print(f"10: Run All in {seconds:.1f} s", flush=True)
        assert not _errors(page), _errors(page)
        SHOTS.mkdir(parents=True, exist_ok=True)
        canvas = page.locator(".facelib-paint-canvas").first
        canvas.wait_for(state="visible", timeout=60_000)
        status = page.locator(".facelib-paint-status").first
        outs = {m: page.locator(f"img.facelib-paint-out-{m}, .facelib-paint-out-{m} img").first for m in METHODS}
        for m, loc in outs.items():
            loc.wait_for(state="visible", timeout=30_000)

        def count() -> int:
            found = re.search(r"update (\d+)", status.inner_text())
            return int(found.group(1)) if found else 0

        def click_and_wait(text: str) -> None:
            n = count()
            page.locator(".widget-button", has_text=text).first.click()
            page.wait_for_function("([sel, n]) => { const m = document.querySelector(sel).innerText"
                                   ".match(/update (\\d+)/); return m && +m[1] > n; }",
                                   arg=[".facelib-paint-status", n], timeout=30_000)

        click_and_wait("clear")
        # Settled for 2 s: a baseline taken before the cleared pictures have all shown would make the Context
        # Encoder's column look changed by the stroke (seen once on a machine busy with a training run).
        before = {m: _stable_pixels(loc, settle_s=2.0) for m, loc in outs.items()}
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        n = count()
        points = [(0.25, 0.35), (0.45, 0.38), (0.62, 0.55), (0.7, 0.75)]  # over an eye and a cheek
        page.mouse.move(box["x"] + box["width"] * points[0][0], box["y"] + box["height"] * points[0][1])
        page.mouse.down()
        for fx, fy in points[1:]:
            page.mouse.move(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy, steps=6)
        released = time.monotonic()
        page.mouse.up()
        page.wait_for_function("([sel, n]) => { const m = document.querySelector(sel).innerText"
                               ".match(/update (\\d+)/); return m && +m[1] > n; }",
                               arg=[".facelib-paint-status", n], timeout=30_000, polling=20)
        latency = time.monotonic() - released
        after = {m: _wait_changed(loc, before[m], timeout_s=30) if m != "context_encoder"
                 else _stable_pixels(loc, settle_s=2.0) for m, loc in outs.items()}
        page.screenshot(path=str(SHOTS / "10_after_stroke.png"))
        print(f"10: mouse release -> status updated in the browser after {latency * 1000:.0f} ms; "
              f"{status.inner_text()}", flush=True)
        unchanged = [m for m in METHODS if m != "context_encoder" and not _differs(before[m], after[m])]
        assert not unchanged, f"the stroke did not change the pictures of {unchanged}"
        assert not _differs(before["context_encoder"], after["context_encoder"]), \
            "the Context Encoder should wait for its centre square"
        canvas_after = _pixels(canvas)
        assert canvas_after.std() > 10, "the canvas shows no face"

        click_and_wait("centre square")
        centre = {m: _wait_changed(loc, after[m], timeout_s=30) for m, loc in outs.items()}
        page.screenshot(path=str(SHOTS / "10_centre_square.png"))
        unchanged = [m for m in METHODS if not _differs(after[m], centre[m])]
        assert not unchanged, f"the centre square did not change the pictures of {unchanged}"
        label = page.locator(".facelib-paint-label-context_encoder").first.inner_text()
        assert "dB" in label, f"the Context Encoder did not paint its centre square: {label!r}"
        assert not _errors(page), _errors(page)
    finally:
        page.close()
