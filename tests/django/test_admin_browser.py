"""The admin's login page in headless Chromium, as a visitor sees it: with the stylesheets
Puff serves from STATIC_ROOT the page has the admin's header colour (``--header-bg``, from
the collected base.css), and the same HTML without its stylesheets does not, so the colour
comes from the CSS that went over the wire."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import chromium
import pytest
from conftest import Server, tail
from PIL import Image

MIN_STYLED_PIXELS = 5_000  # the header bar alone is about 390 x 60 px at 1024 x 768
MAX_UNSTYLED_PIXELS = 50


def header_colour(base_css: str) -> tuple[int, int, int]:
    """``--header-bg`` of the light theme, following one ``var(--name)`` reference."""
    root = base_css[: base_css.index("}")]  # the first block: html[data-theme="light"], :root
    variables = dict(re.findall(r"(--[\w-]+):\s*([^;]+);", root))
    value = variables["--header-bg"].strip()
    ref = re.fullmatch(r"var\((--[\w-]+)\)", value)
    if ref:
        value = variables[ref.group(1)].strip()
    assert re.fullmatch(r"#[0-9a-fA-F]{6}", value), f"--header-bg is {value!r}"
    return int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16)


def count_pixels(png: Path, colour: tuple[int, int, int], tolerance: int = 3) -> int:
    with Image.open(png) as im:
        rgb = im.convert("RGB")
        assert rgb.size == (1024, 768), rgb.size
        r, g, b = colour
        lo = tuple(max(0, c - tolerance) for c in (r, g, b))
        hi = tuple(min(255, c + tolerance) for c in (r, g, b))
        bands = [
            band.point(lambda v, lo=lo[i], hi=hi[i]: 255 if lo <= v <= hi else 0)
            for i, band in enumerate(rgb.split())
        ]
        mask = bands[0]
        for band in bands[1:]:
            mask = Image.composite(band, Image.new("L", mask.size, 0), mask)
        return int(mask.histogram()[255])


def render(url: str, png: Path, profile: Path) -> None:
    try:
        done = chromium.screenshot(url, str(png), str(profile))
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"chromium did not finish {url} within {exc.timeout} s", pytrace=False)
    if done.returncode != 0 or not png.is_file():
        pytest.fail(
            f"chromium failed on {url} (exit {done.returncode}):\n{tail(done.stderr)}",
            pytrace=False,
        )


def test_admin_login_is_styled_in_a_browser(server: Server, tmp_path: Path) -> None:
    if not chromium.available():
        pytest.fail(chromium.INSTALL_HINT, pytrace=False)
    base_css = (server.static_root / "admin" / "css" / "base.css").read_text()
    colour = header_colour(base_css)
    assert colour == (0x41, 0x76, 0x90), f"Django's admin header is #{bytes(colour).hex()} now"

    styled = tmp_path / "styled.png"
    render(f"{server.base}/admin/login/", styled, tmp_path / "profile-styled")

    page = server.get("/admin/login/")
    assert page.status == 200, page.describe()
    links = re.findall(r"<link\b[^>]*rel=\"stylesheet\"[^>]*>", page.text())
    assert any("/static/admin/css/base.css" in link for link in links), links
    bare = tmp_path / "unstyled.html"
    bare.write_text(re.sub(r"<link\b[^>]*rel=\"stylesheet\"[^>]*>", "", page.text()))
    unstyled = tmp_path / "unstyled.png"
    render(bare.as_uri(), unstyled, tmp_path / "profile-unstyled")

    with_css = count_pixels(styled, colour)
    without_css = count_pixels(unstyled, colour)
    report = (
        f"pixels of #{bytes(colour).hex()} (+-3 per channel): {with_css} in {styled} "
        f"(the page as served, stylesheets {links}), {without_css} in {unstyled} "
        f"(the same HTML without them); wanted >= {MIN_STYLED_PIXELS} and <= "
        f"{MAX_UNSTYLED_PIXELS}"
    )
    print(report)
    assert with_css >= MIN_STYLED_PIXELS, report
    assert without_css <= MAX_UNSTYLED_PIXELS, report
