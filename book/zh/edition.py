"""The Chinese edition (中文版): each chapter's twin, built from the English notebook and a translation catalogue.

A twin has every cell of its English chapter in order: the code cells verbatim, each markdown cell replaced by
its translation, and one more hidden cell after the set-up cell, which switches the edition's language
(``language.use("zh")``) so that the shared code prints its readings and draws its figures in Chinese.

``translations/<chapter>.md`` holds a chapter's translations, one entry per English markdown cell, headed by
``<!-- en <hash> -->``: the first 12 hex digits of the SHA-256 of the English cell it translates. An English
cell that changes gets a new hash, so its old translation no longer matches and the twin cannot be built:
the editions cannot drift apart silently.

    python book/zh/edition.py status            # which translations are missing or stale
    python book/zh/edition.py build [CHAPTER]   # write the twins, keeping outputs where the code is unchanged
"""
import copy
import hashlib
import json
import re
import sys
from pathlib import Path

ZH = Path(__file__).resolve().parent
ENGLISH = ZH.parent
TRANSLATIONS = ZH / "translations"
ENTRY = re.compile(r"^<!-- en ([0-9a-f]{12}) -->\n", re.M)
LANGUAGE_TAG = "language"
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
    return {key: text.strip("\n") for key, text in zip(parts[1::2], parts[2::2])}


def english(chapter):
    return json.loads((ENGLISH / f"{chapter}.ipynb").read_text())


def drift(chapter):
    """``(missing, stale)``: English markdown cells with no translation (index and first line), and translations of
    text that is no longer in the chapter (their hashes)."""
    cells = english(chapter)["cells"]
    texts = {fingerprint(source(c)): (i, source(c)) for i, c in enumerate(cells) if c["cell_type"] == "markdown"}
    translated = catalogue(chapter)
    missing = [(i, text.splitlines()[0] if text else "") for key, (i, text) in texts.items() if key not in translated]
    stale = [key for key in translated if key not in texts]
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
    translated = catalogue(chapter)
    for cell in notebook["cells"]:
        if cell["cell_type"] == "markdown":
            cell["source"] = unwrap(translated[fingerprint(source(cell))]).splitlines(True)
        elif cell["cell_type"] == "code":
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
