"""The Chinese edition (中文版): each chapter's twin, built from the English notebook and a translation catalogue.

A twin has every cell of its English chapter in order: each markdown cell replaced by its translation, each
code cell tagged ``translated`` (one that only words a reading, a caption or a label) replaced by its Chinese
form, every other code cell verbatim, and one more hidden cell after the set-up cell, which switches the
package's language (``language.use("zh")``) so that its tables and figures speak Chinese.

``translations/<chapter>.md`` holds a chapter's translations in the order of its cells, one entry per English
markdown cell, headed by ``<!-- en <hash> -->``, and one per translated code cell, headed by
``<!-- code <hash> -->`` and fenced as Python: the hash is the first 12 hex digits of the SHA-256 of the English
cell. An English cell that changes gets a new hash, so its old translation no longer matches and the twin
cannot be built: the editions cannot drift apart silently. A translated code cell must compute what its
English cell computes (:func:`computation`): only the words of its strings may differ.

    python book/zh/edition.py status            # which translations are missing or stale
    python book/zh/edition.py build [CHAPTER]   # write the twins, keeping outputs where the code is unchanged
"""
import ast
import copy
import hashlib
import json
import re
import sys
from pathlib import Path

ZH = Path(__file__).resolve().parent
ENGLISH = ZH.parent
TRANSLATIONS = ZH / "translations"
ENTRY = re.compile(r"^<!-- (en|code) ([0-9a-f]{12}) -->\n", re.M)
FENCE = re.compile(r"\A```python\n(.*)\n```\Z", re.S)
LANGUAGE_TAG = "language"
TRANSLATED_TAG = "translated"
LANGUAGE_CELL = """\
# 中文版：这一章的读数、表头和图中文字用中文。图用 Noto Sans CJK SC 字体。
try:
    import mplfonts  # noqa: F401
except ImportError:
    %pip install --quiet mplfonts
from cbam_helpers import language

language.use("zh")"""


CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef“”‘’]")
BLOCK = re.compile(r"^\s*([-*+>|#]|\d+\.|:::|\$\$|```)")


def unwrap(text):
    """Join the lines of a paragraph where a line ends and the next begins with Chinese: a browser shows a
    line break as a space, which between two Chinese characters is a gap. Code, formulas, tables, lists'
    starts and directives are left as they are."""
    out, fenced = [], False
    for line in text.split("\n"):
        marker = line.strip()
        opens = marker.startswith("```") or (marker.startswith("$$") and not (len(marker) > 2 and
                                                                           marker.endswith("$$")))
        joinable = (out and not fenced and not opens and marker and out[-1].strip() and not BLOCK.match(line)
                    and CJK.match(out[-1][-1]) and CJK.match(marker[0]))
        if joinable:
            out[-1] += marker
        else:
            out.append(line)
        fenced = fenced != opens
    return "\n".join(out)


def source(cell):
    return "".join(cell["source"])


def fingerprint(text):
    """The hash that ties a translation to the English text it translates."""
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def chapters():
    """The twins the Chinese edition has: the stems of its table of contents' chapters."""
    toc = (ZH / "_toc.yml").read_text()
    return re.findall(r"^\s*- file: (\d\w+)\s*$", toc, re.M)


def catalogue(chapter):
    """``{hash: translation}`` of one chapter; empty when it has no translations yet."""
    path = TRANSLATIONS / f"{chapter}.md"
    if not path.exists():
        return {}
    parts = ENTRY.split(path.read_text())
    entries = {}
    for kind, key, text in zip(parts[1::3], parts[2::3], parts[3::3]):
        text = text.strip("\n")
        if kind == "code":
            fenced = FENCE.match(text)
            if not fenced:
                raise ValueError(f"{chapter}: the code entry {key} is not fenced as ```python")
            text = fenced.group(1)
        entries[key] = text
    return entries


def translated(cell):
    """Whether a cell's words come from the catalogue: a markdown cell, or a code cell tagged ``translated``."""
    return cell["cell_type"] == "markdown" or (
        cell["cell_type"] == "code" and TRANSLATED_TAG in cell["metadata"].get("tags", []))


class _Unworded(ast.NodeTransformer):
    """A syntax tree without its words (:func:`computation`)."""

    def visit_JoinedStr(self, node):
        values = {ast.dump(self.visit(v.value)) for v in node.values if isinstance(v, ast.FormattedValue)}
        return ast.Tuple([ast.Constant(v) for v in sorted(values)], ast.Load())

    def visit_Call(self, node):
        if isinstance(node.func, ast.Name) and node.func.id == "term" and len(node.args) == 1:
            return self.visit(node.args[0])
        return self.generic_visit(node)

    def visit_Constant(self, node):
        return ast.Tuple([], ast.Load()) if isinstance(node.value, str) else node


def computation(code):
    """What a code cell computes, with its words taken out: its syntax tree with every string emptied, every
    f-string reduced to the set of expressions it formats (a translation may order them its own way) and every
    ``term(x)``, which only words ``x``, read as ``x``. IPython's ``%`` and ``!`` lines count as they are."""
    lines = code.split("\n")
    magics = [line for line in lines if line.lstrip().startswith(("%", "!"))]
    parsed = [line[:len(line) - len(line.lstrip())] + "pass" if line in magics else line for line in lines]
    tree = _Unworded().visit(ast.parse("\n".join(parsed)))
    return "\n".join([ast.dump(tree, include_attributes=False), *magics])


def english(chapter):
    return json.loads((ENGLISH / f"{chapter}.ipynb").read_text())


def drift(chapter):
    """``(missing, stale)``: English cells to translate (markdown, and code tagged ``translated``) with no
    translation (index and first line), and translations of text that is no longer in the chapter (their
    hashes)."""
    cells = english(chapter)["cells"]
    texts = {fingerprint(source(c)): (i, source(c)) for i, c in enumerate(cells) if translated(c)}
    entries = catalogue(chapter)
    missing = [(i, text.splitlines()[0] if text else "") for key, (i, text) in texts.items() if key not in entries]
    stale = [key for key in entries if key not in texts]
    return missing, stale


def language_cell():
    return {"cell_type": "code", "execution_count": None, "id": "zh-language", "outputs": [],
            "metadata": {"tags": ["remove-cell", LANGUAGE_TAG]}, "source": LANGUAGE_CELL.splitlines(True)}


def shared_code(notebook):
    """The code cells a twin shares with its English chapter: all but the language cell."""
    return [source(c) for c in notebook["cells"]
            if c["cell_type"] == "code" and LANGUAGE_TAG not in c["metadata"].get("tags", [])]


def twin(chapter, previous=None):
    """The Chinese notebook of ``chapter``. ``previous``, an earlier twin: its outputs are kept when its code cells
    are the English ones, so a change of wording alone needs no new execution."""
    missing, stale = drift(chapter)
    if missing or stale:
        raise ValueError(f"{chapter}: {len(missing)} English cells lack a translation {missing[:3]}, "
                         f"{len(stale)} translations are of text no longer there")
    notebook = copy.deepcopy(english(chapter))
    entries = catalogue(chapter)
    for cell in notebook["cells"]:
        if cell["cell_type"] == "markdown":
            cell["source"] = unwrap(entries[fingerprint(source(cell))]).splitlines(True)
        elif cell["cell_type"] == "code":
            if translated(cell):
                cell["source"] = entries[fingerprint(source(cell))].splitlines(True)
            cell["outputs"], cell["execution_count"] = [], None
            cell["metadata"].pop("execution", None)
    notebook["cells"].insert(1, language_cell())
    if previous is not None and shared_code(previous) == shared_code(notebook):
        old = [c for c in previous["cells"] if c["cell_type"] == "code"]
        new = [c for c in notebook["cells"] if c["cell_type"] == "code"]
        for cell, kept in zip(new, old):
            cell["outputs"], cell["execution_count"] = kept["outputs"], kept["execution_count"]
            if "execution" in kept["metadata"]:
                cell["metadata"]["execution"] = kept["metadata"]["execution"]
    notebook["metadata"]["language"] = "zh"
    return notebook


def build(names=None):
    """Write the twins of ``names`` (default: every chapter of the Chinese edition); returns those that need
    executing (their code changed, or they are new)."""
    stale = []
    for chapter in names or chapters():
        path = ZH / f"{chapter}.ipynb"
        previous = json.loads(path.read_text()) if path.exists() else None
        notebook = twin(chapter, previous)
        if notebook != previous:  # an unchanged twin keeps its file as executed, key order included
            path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
        if any(c["cell_type"] == "code" and c["execution_count"] is None for c in notebook["cells"]):
            stale.append(path)
    return stale


def main(argv):
    command, *names = argv or ["status"]
    if command == "status":
        for chapter in sorted(p.stem for p in ENGLISH.glob("*.ipynb")):
            missing, stale = drift(chapter)
            state = "up to date" if not (missing or stale) else f"{len(missing)} missing, {len(stale)} stale"
            print(f"{chapter:40s} {state}{'' if chapter in chapters() else ' (not in the edition yet)'}")
    elif command == "build":
        for path in build(names):
            print(f"execute {path.relative_to(ENGLISH.parent)}")
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
