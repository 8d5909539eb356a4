"""The book's two editions, English and Chinese (中文版), from one source of code.

Each edition's notebooks speak their own language: a cell that words a reading, a caption or a label is
written in English in the English chapter and in Chinese in its twin (``book/zh/edition.py`` keeps the two
computing the same thing); every other cell is the same in both. What the package itself says, its tables'
and figures' labels, follows the edition it runs in: :func:`text` picks a language and :func:`term` looks a
label up in :data:`~cbam_helpers.language.terms.ZH`. The Chinese edition's first cell after the set-up calls
``use("zh")``: it sets ``CBAM_LANG``, gives matplotlib a Chinese font and shows the chapters' own tables in
Chinese (:mod:`~cbam_helpers.language.frames`).
"""
import os
import re
from pathlib import Path

LANGUAGES = ("en", "zh")
CJK_FAMILY = "Noto Sans CJK SC"
"""The Chinese font the figures draw with: shipped by the ``mplfonts`` package (PyPI), or installed system-wide
(Debian's ``fonts-noto-cjk``)."""


def language():
    """``'zh'`` in the Chinese edition (``CBAM_LANG=zh``), else ``'en'``."""
    value = os.environ.get("CBAM_LANG") or "en"
    if value not in LANGUAGES:
        raise ValueError(f"CBAM_LANG must be one of {LANGUAGES}, got {value!r}")
    return value


def text(en, zh):
    """The string of this edition's language."""
    return zh if language() == "zh" else en


def reading(markdown):
    """A chapter's reading as Markdown for the page. A line break between two Chinese characters goes: a browser
    shows it as a space, which Chinese does not put between words."""
    from IPython.display import Markdown

    return Markdown(_JOINED.sub("", markdown))


_CJK = "\u3000-\u303f\u4e00-\u9fff\uff00-\uffef"
_JOINED = re.compile(f"(?<=[{_CJK}])\n(?=[{_CJK}])")


def term(english, column=None):
    """A label of the package's figures and tables in this edition's language, looked up as a table's words are
    (:func:`~cbam_helpers.language.frames.word`: the words of ``column`` where it has its own,
    :data:`~cbam_helpers.language.terms.ZH`, else a pattern); one with no entry stays as it is (a
    configuration's label, a number)."""
    if language() != "zh":
        return english
    from cbam_helpers.language.frames import word

    return word(english, column)


def use(lang):
    """Make this process speak ``lang``: set ``CBAM_LANG`` and, for ``'zh'``, draw figures with a Chinese font and
    show DataFrames in Chinese words."""
    if lang not in LANGUAGES:
        raise ValueError(f"lang must be one of {LANGUAGES}, got {lang!r}")
    os.environ["CBAM_LANG"] = lang
    if lang == "zh":
        use_cjk_font()
    from cbam_helpers.language.frames import show_frames_worded

    show_frames_worded(lang == "zh")  # the chapters' own tables, in IPython


def cjk_font_file():
    """The file of :data:`CJK_FAMILY`: the one ``mplfonts`` ships, else the system's; ``None`` if neither."""
    try:
        import mplfonts
    except ImportError:
        pass
    else:
        shipped = Path(mplfonts.__file__).parent / "fonts" / "NotoSansCJKsc-Regular.otf"
        if shipped.exists():
            return shipped
    from matplotlib import font_manager

    for path in font_manager.findSystemFonts():
        if Path(path).name.startswith(("NotoSansCJK-Regular", "NotoSansCJKsc-Regular")):
            return Path(path)
    return None


def use_cjk_font():
    """Register :data:`CJK_FAMILY` with matplotlib and draw with it after DejaVu Sans, whose Latin letters, digits
    and minus sign stay; raises with the fix when no such font is installed."""
    import matplotlib
    from matplotlib import font_manager

    path = cjk_font_file()
    if path is None:
        raise RuntimeError(f"no {CJK_FAMILY} font for the figures' Chinese labels: `pip install mplfonts` "
                           "(or, on Debian, `apt-get install fonts-noto-cjk`)")
    font_manager.fontManager.addfont(str(path))
    family = font_manager.FontProperties(fname=str(path)).get_name()
    # a list of families: matplotlib falls back glyph by glyph along it
    matplotlib.rcParams["font.family"] = ["DejaVu Sans", family]
    return family
