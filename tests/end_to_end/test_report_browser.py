"""report.html in a real browser: headless Chromium takes a screenshot, and the chart colours
must cover real area of it — they would not if the SVG charts failed to render.

Skips when Chromium is missing, except under CI (``CI`` set), where a skip would hide a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthtab.evaluation import evaluate_frames
from synthtab.tools.report_html import REAL_COLOUR, SYNTHETIC_COLOUR, render_report_html

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1300,4000",
]


def chromium() -> str:
    found = next(
        (
            p
            for p in ("/usr/bin/chromium", shutil.which("chromium") or "")
            if p and Path(p).exists()
        ),
        None,
    )
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is required under CI (.ci/run installs it)")
        pytest.skip("Chromium is not installed")
    return found


def screenshot(browser: str, page: Path, tmp_path: Path) -> np.ndarray:
    png = tmp_path / f"{page.stem}.png"
    subprocess.run(
        [
            browser,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / ('profile-' + page.stem)}",
            f"--screenshot={png}",
            page.resolve().as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    return decode_png(png.read_bytes())


def decode_png(data: bytes) -> np.ndarray:
    """An 8-bit RGB/RGBA PNG as an (height, width, channels) array, with numpy and zlib only."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, compressed = 8, b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        position += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour_type = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            compressed += body
    assert depth == 8 and colour_type in (2, 6)
    channels = 3 if colour_type == 2 else 4
    stride = width * channels
    raw = np.frombuffer(zlib.decompress(compressed), dtype=np.uint8).reshape(height, stride + 1)
    image = np.zeros((height, stride), dtype=np.uint8)
    previous = np.zeros(stride, dtype=np.int32)
    for y in range(height):
        kind, line = raw[y, 0], raw[y, 1:].astype(np.int32)
        if kind == 0:
            row = line
        elif kind == 1:  # sub: a running sum per channel
            row = np.cumsum(line.reshape(width, channels), axis=0).reshape(stride) % 256
        elif kind == 2:  # up
            row = (line + previous) % 256
        else:  # average or Paeth: each byte needs the one reconstructed left of it
            row = np.zeros(stride, dtype=np.int32)
            up = previous.tolist()
            values = line.tolist()
            out = [0] * stride
            for x in range(stride):
                left = out[x - channels] if x >= channels else 0
                if kind == 3:
                    predicted = (left + up[x]) // 2
                else:
                    corner = up[x - channels] if x >= channels else 0
                    estimate = left + up[x] - corner
                    da, db, dc = abs(estimate - left), abs(estimate - up[x]), abs(estimate - corner)
                    predicted = left if da <= db and da <= dc else up[x] if db <= dc else corner
                out[x] = (values[x] + predicted) % 256
            row = np.asarray(out, dtype=np.int32)
        image[y] = row
        previous = row
    return image.reshape(height, width, channels)[:, :, :3]


def pixels_of(image: np.ndarray, colour: str) -> int:
    rgb = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    return int((image == np.asarray(rgb, dtype=np.uint8)).all(axis=2).sum())


def test_report_plots_render_in_chromium(adult: pd.DataFrame, tmp_path: Path) -> None:
    browser = chromium()
    sample = adult.sample(2400, random_state=3).reset_index(drop=True)
    body, table, train = evaluate_frames(
        sample.iloc[:1200], sample.iloc[1200:].reset_index(drop=True), target="income"
    )
    page = render_report_html(body, train, sample.iloc[1200:], table)
    assert "<script" not in page and "http" not in page.replace("http-equiv", "")
    report = tmp_path / "report.html"
    report.write_text(page)
    # the same page with every chart removed: only legends and text keep the colours
    control = tmp_path / "control.html"
    control.write_text(re.sub(r"<svg.*?</svg>", "", page, flags=re.S))

    image = screenshot(browser, report, tmp_path)
    plain = screenshot(browser, control, tmp_path)
    assert image.shape == (4000, 1300, 3)
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 50  # not a blank page
    for colour in (REAL_COLOUR, SYNTHETIC_COLOUR):
        drawn, baseline = pixels_of(image, colour), pixels_of(plain, colour)
        print(colour, "chart pixels", drawn, "without charts", baseline)
        assert drawn > 5_000 and drawn > 10 * max(baseline, 1)
