"""The chapters' own tables in the Chinese edition: a DataFrame or Styler shown in its words, its data untouched.

A chapter's code is shared by both editions, so the tables it builds have English headers and words. In the
Chinese edition :func:`show_frames_worded` (called by ``use("zh")``) makes IPython show every DataFrame through
:func:`worded`, and every Styler through :func:`worded_html`: each header, index label and string cell that :data:`~cbam_helpers.language.terms.ZH` (or one of
:data:`~cbam_helpers.language.terms.ZH_PATTERNS`) translates is translated, in a copy for display only, so the
chapter's asserts still read the English values.
"""
import html
import re

from cbam_helpers.language.terms import ZH, ZH_BY_COLUMN, ZH_PATTERNS


def word(label, column=None):
    """``label`` in Chinese: by the words of its ``column`` when that column has its own
    (:data:`~cbam_helpers.language.terms.ZH_BY_COLUMN`), else by ``ZH``, else by the first matching pattern;
    anything else (a number, a configuration's label) as it is."""
    if not isinstance(label, str):
        return label
    own = ZH_BY_COLUMN.get(column, {})
    if label in own:
        return own[label]
    if label in ZH:
        return ZH[label]
    for pattern, chinese in ZH_PATTERNS:
        if re.fullmatch(pattern, label):
            return re.sub(pattern, chinese, label)
    return label


def own_words(column):
    """The label of ``column`` (or of one of its levels, for a MultiIndex column) that has words of its own."""
    labels = column if isinstance(column, tuple) else (column,)
    return next((label for label in labels if label in ZH_BY_COLUMN), None)


def _axis(index):
    import pandas as pd

    if isinstance(index, pd.MultiIndex):  # label by label: two English labels may share one Chinese word
        return pd.MultiIndex.from_tuples([tuple(word(v, n) for v, n in zip(labels, index.names)) for labels in index],
                                         names=[word(n) for n in index.names])
    return index.map(lambda v: word(v, index.name)).rename(word(index.name))


def worded(frame):
    """A copy of ``frame`` with its headers, index labels and string cells in the Chinese edition's words."""
    from pandas.api.types import is_numeric_dtype

    shown = frame.copy()
    for i, column in enumerate(shown.columns):
        if not is_numeric_dtype(shown.iloc[:, i]):  # words (object or string dtype); numbers stay as they are
            shown.isetitem(i, shown.iloc[:, i].map(lambda v, c=own_words(column): word(v, c)))
    shown.index, shown.columns = _axis(shown.index), _axis(shown.columns)
    return shown


CELL = re.compile(r"(<t[hd]\b[^>]*>)([^<]*)(</t[hd]>)")
DATA_COLUMN = re.compile(r'class="data row\d+ col(\d+)')


def worded_html(styler):
    """A Styler's HTML with its header and cell words in Chinese: a data cell by the words of its column (read
    from the cell's ``colN`` class), formatting and styles as the Styler set them."""
    columns = styler.data.columns

    def translate(match):
        opening, content, closing = match.groups()
        column = DATA_COLUMN.search(opening)
        label = html.unescape(content).strip()
        chinese = word(label, own_words(columns[int(column[1])]) if column else None)
        return match[0] if chinese == label else opening + html.escape(str(chinese), quote=False) + closing

    return CELL.sub(translate, styler._repr_html_())


def show_frames_worded(on=True):
    """In IPython, show every DataFrame through :func:`worded` and every Styler through :func:`worded_html`
    (``on``), or as they are again; outside IPython, nothing."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    import pandas as pd
    from pandas.io.formats.style import Styler

    rich, plain = (shell.display_formatter.formatters[kind] for kind in ("text/html", "text/plain"))
    if on:
        rich.for_type(pd.DataFrame, lambda frame: worded(frame)._repr_html_())
        rich.for_type(Styler, worded_html)
        plain.for_type(pd.DataFrame, lambda frame, printer, cycle: printer.text(repr(worded(frame))))
    else:
        rich.pop(pd.DataFrame, None)
        rich.pop(Styler, None)
        plain.pop(pd.DataFrame, None)
