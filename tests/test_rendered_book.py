"""Open every chapter of the built book in headless Chromium and check what a reader sees."""
import json
import os
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


def toc_pages(toc_file):
    toc = yaml.safe_load(toc_file.read_text())
    files = [toc["root"]] + [entry["file"] for part in toc.get("parts", [toc]) for entry in part.get("chapters", [])]
    return [re.sub(r"\.(md|ipynb)$", "", f) for f in files]


def chapters():
    """Every page of both editions as (its path under _build/html without .html, its source without suffix):
    the English pages at the root, their Chinese twins under zh/."""
    english = [(page, page) for page in toc_pages(ROOT / "_toc.yml")]
    chinese = [(f"zh/{page}", f"book/zh/{page}") for page in toc_pages(ROOT / "book" / "zh" / "_toc.yml")]
    return english + chinese


def cjk_fonts_config(folder):
    """A fontconfig file that adds the environment's Noto Sans CJK (from ``mplfonts``, which the Chinese edition's
    figures draw with) to the system's fonts, so that the glyph checks do not depend on what the machine has."""
    import mplfonts

    fonts = Path(mplfonts.__file__).parent / "fonts"
    config = folder / "fonts.conf"
    config.write_text(f"""<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig>
  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>
  <dir>{fonts}</dir>
  <cachedir>{folder / "cache"}</cachedir>
</fontconfig>
""")
    return config


def run_chromium(tmp_path, *args):
    profile = tmp_path / "chromium-profile"
    environment = dict(os.environ, FONTCONFIG_FILE=str(cjk_fonts_config(tmp_path)))
    result = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=120, env=environment,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (`make test` installs Debian's "
                                                          "package, or names it where it cannot)")


PAGES = chapters()
IDS = [page for page, _ in PAGES]


@pytest.mark.parametrize("chapter, source", PAGES, ids=IDS)
def test_chapter_renders(chapter, source, tmp_path):
    page = HTML / f"{chapter}.html"
    assert page.exists(), f"{page} missing: build the book first (make book)"
    dom = run_chromium(tmp_path, "--dump-dom", page.as_uri())
    assert "<h1" in dom, "no title on the page"
    static = page.read_text()
    if 'class="math' in static:
        # MathJax replaces the TeX with mjx-container elements once its script has run
        assert "<mjx-container" in dom, "the page has formulas but MathJax did not typeset them"
    stored_figures = re.findall(r'<img[^>]+src="([^"]*_images/[^"]+)"', static)
    notebook = ROOT / f"{source}.ipynb"
    if notebook.exists() and '"image/png"' in notebook.read_text():
        assert stored_figures, "the chapter stores figures but its page has none"
    shown = re.findall(r'<img[^>]+src="([^"]*_images/[^"]+)"', dom)
    assert len(shown) == len(stored_figures), "figures of the page are missing after scripts ran"
    for src in shown:
        assert (page.parent / src).resolve().exists(), f"figure {src} is missing"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / f"{chapter.replace('/', '-')}.png"
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


@pytest.mark.parametrize("chapter, source", PAGES, ids=IDS)
def test_no_code_block_is_wider_than_the_column(chapter, source, tmp_path):
    """At 1280 px a code block or printed output that is cut off hides code from the reader."""
    page = HTML / f"{chapter}.html"
    assert page.exists(), f"{page} missing: build the book first (make book)"
    wide = probed(page, WIDTH_PROBE, tmp_path, "data-wide-blocks")
    assert not wide, f"{len(wide)} code blocks wider than the column, starting: {wide}"


# At a phone's width, whatever is wider than the screen (a table, a formula) scrolls inside its own box: the page
# itself never scrolls sideways.
PHONE_PROBE = """<script>
window.addEventListener("load", () => {
  const page = document.documentElement;
  document.body.setAttribute("data-phone", JSON.stringify({overflow: page.scrollWidth - page.clientWidth}));
});
</script>"""


@pytest.mark.parametrize("chapter, source", PAGES, ids=IDS)
def test_at_a_phones_width_nothing_runs_off_the_page(chapter, source, tmp_path):
    found = probed(HTML / f"{chapter}.html", PHONE_PROBE, tmp_path, "data-phone", width=390)
    assert found["overflow"] <= 1, f"the page scrolls sideways by {found['overflow']} px at 390 px"


def probed(page, script, tmp_path, attribute, width=None):
    """Run ``script`` in ``page`` (a copy beside it, so that its links resolve) and read the attribute it sets on
    <body>. With ``width``, the page is laid out in a frame that wide: headless Chromium's window is never
    narrower than 500 px, and a phone is."""
    probe = page.with_name(page.stem + ".probe.html")
    probe.write_text(page.read_text().replace("</body>", script + "</body>"))
    shown = probe
    if width:
        shown = page.with_name(page.stem + ".frame.html")
        shown.write_text(f"""<html><body style="margin:0">
<iframe id="page" src="{probe.name}" style="width:{width}px;height:2400px;border:0"></iframe>
<script>document.getElementById("page").addEventListener("load", (event) => {{
  const inner = event.target.contentDocument.body;
  document.body.setAttribute("{attribute}", inner.getAttribute("{attribute}"));
}});</script></body></html>""")
    try:
        dom = run_chromium(tmp_path, "--allow-file-access-from-files", "--window-size=1280,2400", "--dump-dom",
                           shown.as_uri())
    finally:
        probe.unlink()
        shown.unlink(missing_ok=True)
    found = re.search(rf'{attribute}="([^"]*)"', dom)
    assert found, f"the probe did not run on {page.name}"
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<")
                      .replace("&gt;", ">"))


# Each CJK character of the page drawn in the page's own font, against a character no font has (U+E000, a
# private-use code point): one that draws the same pixels as it is a missing glyph (a box, or nothing).
GLYPH_PROBE = """<script>
window.addEventListener("load", () => {
  const font = "32px " + getComputedStyle(document.body).fontFamily;
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = 40;
  const context = canvas.getContext("2d");
  const draw = (c) => {
    context.clearRect(0, 0, 40, 40);
    context.font = font;
    context.fillText(c, 2, 32);
    return context.getImageData(0, 0, 40, 40).data.join(",");
  };
  const missing = draw("\\uE000");
  const characters = [...new Set(document.body.innerText.match(/[\\u4e00-\\u9fff]/g) || [])];
  const boxes = characters.filter(c => draw(c) === missing);
  document.body.setAttribute("data-glyphs", JSON.stringify({checked: characters.length, missing: boxes}));
});
</script>"""


@pytest.mark.parametrize("chapter, source", [p for p in PAGES if p[0].startswith("zh/")],
                         ids=[p[0] for p in PAGES if p[0].startswith("zh/")])
def test_every_chinese_character_has_a_glyph(chapter, source, tmp_path):
    found = probed(HTML / f"{chapter}.html", GLYPH_PROBE, tmp_path, "data-glyphs")
    assert found["checked"] > 50, "the page shows almost no Chinese"
    assert not found["missing"], f"characters drawn as missing glyphs: {''.join(found['missing'][:40])}"


SWITCH_PROBE = """<script>
window.addEventListener("load", () => {
  const link = document.querySelector("a.language-switch");
  document.body.setAttribute("data-switch", JSON.stringify(link ? link.getAttribute("href") : null));
});
</script>"""


@pytest.mark.parametrize("chapter, source", PAGES, ids=IDS)
def test_every_page_links_to_its_twin_in_the_other_edition(chapter, source, tmp_path):
    page = HTML / f"{chapter}.html"
    target = probed(page, SWITCH_PROBE, tmp_path, "data-switch")
    assert target, "no language-switch link on the page"
    linked = Path(target.replace("file://", "")) if target.startswith("file://") else (page.parent / target)
    assert linked.resolve().exists(), f"the switch links to {target}, which does not exist"
    other = "book" if chapter.startswith("zh/") else "zh"
    assert linked.resolve().parent.name == other
