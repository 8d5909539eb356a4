"""Open every chapter of the built book in headless Chromium and check what a reader sees."""
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--virtual-time-budget=15000", "--hide-scrollbars",
]


def chapters():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [entry["file"] for part in toc.get("parts", [toc]) for entry in part.get("chapters", [])]
    return [re.sub(r"\.(md|ipynb)$", "", f) for f in files]


def run_chromium(tmp_path, *args):
    profile = tmp_path / "chromium-profile"
    result = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (`.ci/run` installs Debian's package)")


@pytest.mark.parametrize("chapter", chapters())
def test_chapter_renders(chapter, tmp_path):
    page = HTML / f"{chapter}.html"
    assert page.exists(), f"{page} missing: build the book first (make book)"
    dom = run_chromium(tmp_path, "--dump-dom", page.as_uri())
    assert "<h1" in dom, "no title on the page"
    static = page.read_text()
    if 'class="math' in static:
        # MathJax replaces the TeX with mjx-container elements once its script has run
        assert "<mjx-container" in dom, "the page has formulas but MathJax did not typeset them"
    stored_figures = re.findall(r'<img[^>]+src="([^"]*_images/[^"]+)"', static)
    notebook = ROOT / f"{chapter}.ipynb"
    if notebook.exists() and '"image/png"' in notebook.read_text():
        assert stored_figures, "the chapter stores figures but its page has none"
    shown = re.findall(r'<img[^>]+src="([^"]*_images/[^"]+)"', dom)
    assert len(shown) == len(stored_figures), "figures of the page are missing after scripts ran"
    for src in shown:
        assert (page.parent / src).resolve().exists(), f"figure {src} is missing"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / f"{Path(chapter).name}.png"
    run_chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2400", page.as_uri())
    assert shot.exists() and shot.stat().st_size > 10_000


# After the page has laid out, mark on <body> every visible code block whose text is wider than its box
WIDTH_PROBE = """<script>
window.addEventListener("load", () => {
  const wide = [...document.querySelectorAll("pre")]
    .filter(p => p.clientWidth > 0 && p.scrollWidth > p.clientWidth + 1)
    .map(p => (p.textContent.split("\\n").find(line => line.trim()) || "").slice(0, 70));
  document.body.setAttribute("data-wide-blocks", JSON.stringify(wide));
});
</script>"""


@pytest.mark.parametrize("chapter", chapters())
def test_no_code_block_is_wider_than_the_column(chapter, tmp_path):
    """At 1280 px a code block or printed output that is cut off hides code from the reader."""
    page = HTML / f"{chapter}.html"
    assert page.exists(), f"{page} missing: build the book first (make book)"
    probe = page.with_name(page.stem + ".width-probe.html")  # beside the page, so its links resolve
    probe.write_text(page.read_text().replace("</body>", WIDTH_PROBE + "</body>"))
    try:
        dom = run_chromium(tmp_path, "--window-size=1280,2400", "--dump-dom", probe.as_uri())
    finally:
        probe.unlink()
    found = re.search(r'data-wide-blocks="([^"]*)"', dom)
    assert found, "the width probe did not run"
    wide = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<")
                      .replace("&gt;", ">"))
    assert not wide, f"{len(wide)} code blocks wider than the column, starting: {wide}"
