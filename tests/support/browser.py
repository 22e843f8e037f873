"""Open an HTML report in headless Chromium and report what a person would see (for the report tests).

:func:`render` copies the page, injects a collector that records every ``window.onerror``,
unhandled rejection and ``console.error`` and, once the page has drawn, writes a JSON summary
into the DOM (the errors, each Plotly chart with its traces and drawn marks (from plotly's ``_fullData``, where typed arrays are decoded), texts, and the result
of an optional ``action`` script); Chromium's ``--dump-dom`` hands it back. :func:`screenshot`
takes a PNG and :func:`png_is_blank` tells a one-colour image apart. No network: the page must
be self-contained, and Chromium runs with background networking off.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium")
                 if p and os.path.exists(p)), None)
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed: apt-get install "
                                                             "chromium (CI installs it in .ci/run)")

_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
          "--disable-component-update", "--disable-sync", "--disable-extensions", "--hide-scrollbars",
          "--virtual-time-budget=20000"]

_COLLECTOR = """<script>
window.__errors = [];
window.addEventListener("error", e => window.__errors.push("error: " + (e.message || e.type)));
window.addEventListener("unhandledrejection", e => window.__errors.push("rejection: " + e.reason));
(function(){ const original = console.error; console.error = function(){ window.__errors.push("console.error: " +
  Array.from(arguments).join(" ")); return original.apply(console, arguments); }; })();
</script>"""

_SUMMARY = """<script>
window.addEventListener("load", () => setTimeout(() => {
  let action = null;
  try { action = (%s)(); } catch (e) { window.__errors.push("action: " + e.message); }
  setTimeout(() => {
    const plots = Array.from(document.querySelectorAll(".js-plotly-plot")).map(d => ({
      id: d.id, visible: d.offsetParent !== null, traces: (d._fullData || []).length,
      points: (d._fullData || []).reduce((n, t) => n + ((t.x && t.x.length) || (t.z && t.z.length) ||
                                                        (t.y && t.y.length) || 0), 0),
      marks: d.querySelectorAll(".scatterlayer path, .barlayer path, .heatmaplayer image, .boxlayer path, .trace path").length,
      texts: Array.from(d.querySelectorAll("text")).map(t => t.textContent).filter(t => t).slice(0, 400)}));
    const out = document.createElement("pre"); out.id = "__summary";
    out.textContent = JSON.stringify({errors: window.__errors, plots: plots, action: action,
      body: document.body.innerText.slice(0, 200000)});
    document.body.appendChild(out);
  }, 500);
}, 500));
</script>"""


def render(page: Path, tmp: Path, *, action: str = "() => null") -> dict:
    """The summary of ``page`` as Chromium renders it (see the module docstring)."""
    text = page.read_text(encoding="utf-8")
    head = text.index("<head>") + len("<head>")
    text = text[:head] + _COLLECTOR + text[head:]
    end = text.rindex("</body>")
    text = text[:end] + _SUMMARY % action + text[end:]
    copy = tmp / f"checked-{page.name}"
    copy.write_text(text, encoding="utf-8")
    done = subprocess.run([CHROMIUM, *_FLAGS, f"--user-data-dir={tmp / 'chromium-profile'}", "--window-size=1400,1200",
                           "--dump-dom", copy.resolve().as_uri()], capture_output=True, text=True, timeout=180)
    match = re.search(r'<pre id="__summary">(.*?)</pre>', done.stdout, re.S)
    assert match, f"the page never finished drawing; chromium said: {done.stderr[-2000:]}"
    import html
    return json.loads(html.unescape(match.group(1)))


def screenshot(page: Path, out: Path, tmp: Path, *, size: str = "1400,2400") -> bytes:
    """A PNG screenshot of ``page`` (``size``: width,height)."""
    subprocess.run([CHROMIUM, *_FLAGS, f"--user-data-dir={tmp / 'chromium-profile'}", f"--window-size={size}",
                    f"--screenshot={out}", page.resolve().as_uri()], capture_output=True, timeout=180)
    assert out.is_file(), "chromium wrote no screenshot"
    return out.read_bytes()


def png_is_blank(png: bytes) -> bool:
    """Whether a PNG is (nearly) one colour: its filtered scanlines are almost all one byte value.

    A real page has text, lines and fills: many distinct bytes. Decoding the filters is not needed
    for that: a one-colour image filters to a constant (or zero) stream whatever the filters.
    """
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        if kind == b"IDAT":
            idat += png[pos + 8:pos + 8 + length]
        pos += 12 + length
    data = np.frombuffer(zlib.decompress(idat), np.uint8)
    counts = np.bincount(data, minlength=256)
    return counts.max() > 0.995 * len(data) or np.count_nonzero(counts) < 8
