"""The Chinese edition: every twin built from its English chapter and translations, its code the English code
but for the cells that only word (the same computation in Chinese), its readings, headings and figure labels
Chinese, no Chinese in the English chapters, and no drift between the two."""
import ast
import importlib.util
import json
import re
import warnings
from html import unescape
from pathlib import Path

import matplotlib
import pytest

from cbam_helpers import language
from cbam_helpers.language.glossary import AVOIDED, GLOSSARY
from cbam_helpers.language.terms import ZH

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("edition", ROOT / "book" / "zh" / "edition.py")
edition = importlib.util.module_from_spec(spec)
spec.loader.exec_module(edition)
TWINS = edition.chapters()
CJK = re.compile(r"[\u4e00-\u9fff]")


def twin(chapter):
    return json.loads((edition.ZH / f"{chapter}.ipynb").read_text())


def test_every_english_chapter_has_a_twin():
    english = sorted(p.stem for p in (ROOT / "book").glob("*.ipynb"))
    assert sorted(TWINS) == english
    assert all((edition.ZH / f"{c}.ipynb").exists() for c in TWINS)


@pytest.mark.parametrize("chapter", TWINS)
def test_every_english_markdown_cell_has_a_current_translation(chapter):
    """A changed English cell has a new hash: its old translation no longer matches, and this fails."""
    missing, stale = edition.drift(chapter)
    assert not missing, f"English cells with no translation (changed or new): {missing}"
    assert not stale, f"translations of English text no longer in the chapter: {stale}"


@pytest.mark.parametrize("chapter", TWINS)
def test_the_twin_is_built_from_the_english_code_and_the_translations(chapter):
    stored = twin(chapter)
    built = edition.twin(chapter, previous=stored)
    assert [c["source"] for c in built["cells"]] == [c["source"] for c in stored["cells"]], \
        "the twin is out of date: run `make zh-notebooks`"
    english = [c for c in edition.english(chapter)["cells"] if c["cell_type"] == "code"]
    for ours, theirs in zip(edition.shared_code(stored), english, strict=True):
        if edition.translated(theirs):  # the same computation in other words
            assert edition.computation(ours) == edition.computation(edition.source(theirs)), ours
        else:
            assert ours == edition.source(theirs)
    tagged = [i for i, c in enumerate(stored["cells"]) if edition.LANGUAGE_TAG in c["metadata"].get("tags", [])]
    assert tagged == [1] and 'language.use("zh")' in edition.source(stored["cells"][1])


def test_a_translated_cell_may_change_its_words_and_nothing_else():
    english = 'reading(f"Over {n} seeds the gap is {gap:+.2f}.")\nplot(x, title="Scores")'
    assert edition.computation(english) == edition.computation(
        'reading(f"{gap:+.2f} 是 {n} 个种子上的差距。")\nplot(x, title=term("Scores"))')
    for changed in ('reading(f"{gap + 1:+.2f}, {n}")\nplot(x, title="分数")',  # another number
                    'reading(f"{gap:+.2f}, {n}")\nplot(y, title="分数")',      # another argument
                    'reading(f"{gap:+.2f}, {n}")\nplot(x, label="分数")'):     # another keyword
        assert edition.computation(english) != edition.computation(changed)
    magic = "try:\n    import mplfonts\nexcept ImportError:\n    %pip install {}\nx = 1"
    assert edition.computation(magic.format("mplfonts")) != edition.computation(magic.format("other"))


def test_build_leaves_an_unchanged_twin_as_executed_and_rewrites_a_stale_one(monkeypatch, tmp_path):
    """An executed twin's file is kept byte for byte (whatever its key order); one whose code moved is rebuilt
    with its code cells cleared and is named for execution."""
    chapter = "07_summary"
    executed = json.dumps(twin(chapter), indent=2, sort_keys=True)  # not the layout build() writes
    monkeypatch.setattr(edition, "ZH", tmp_path)
    path = tmp_path / f"{chapter}.ipynb"
    path.write_text(executed)
    assert edition.build([chapter]) == [] and path.read_text() == executed
    stale = json.loads(executed)
    code = next(c for c in stale["cells"]
                if c["cell_type"] == "code" and edition.LANGUAGE_TAG not in c["metadata"].get("tags", []))
    code["source"] = ["an_older_version = True\n"]
    path.write_text(json.dumps(stale))
    assert edition.build([chapter]) == [path] and path.read_text() != json.dumps(stale)
    assert "an_older_version" not in path.read_text()


@pytest.mark.parametrize("chapter", TWINS)
def test_the_twin_was_executed_and_reads_in_chinese(chapter):
    code = [c for c in twin(chapter)["cells"] if c["cell_type"] == "code"]
    assert all(c.get("execution_count") for c in code), "some cells of the twin were never executed"
    outputs = [o for c in code for o in c.get("outputs", [])]
    assert not [o for o in outputs if o["output_type"] == "error"]
    stderr = "".join("".join(o["text"]) for o in outputs if o.get("name") == "stderr")
    assert "missing from font" not in stderr, "a figure drew a glyph its font lacks"
    readings = ["".join(o["data"]["text/markdown"]) for o in outputs if "text/markdown" in o.get("data", {})]
    english = [r[:80] for r in readings if not CJK.search(r)]
    assert not english, f"readings of the twin that are not in Chinese: {english}"


@pytest.mark.parametrize("chapter", TWINS)
def test_every_heading_is_chinese(chapter):
    headings = [line for c in twin(chapter)["cells"] if c["cell_type"] == "markdown"
                for line in edition.source(c).splitlines() if line.startswith("#")]
    assert headings and all(CJK.search(line) for line in headings), [h for h in headings if not CJK.search(h)]


def test_the_glossary_lists_every_term_and_the_chapters_use_no_other_rendering():
    page = (edition.ZH / "glossary.md").read_text()
    assert all(f"| {zh} | {en} |" in page for en, zh in GLOSSARY)
    text = "\n".join((edition.TRANSLATIONS / f"{c}.md").read_text() for c in TWINS)
    # and what the twins print: a reading's strings may split a term across two lines of code
    text += "\n".join(shown_text(o) + "".join(o.get("text", "")) for c in TWINS if c != "glossary"
                      for cell in twin(c)["cells"] for o in cell.get("outputs", []))
    for avoided, used in AVOIDED.items():
        assert avoided not in text, f"{avoided!r}: the edition writes {used!r}"


def test_the_language_switch_knows_every_twin():
    script = (ROOT / "_static" / "language-switch.js").read_text()
    listed = json.loads(re.search(r"const TWINS = (\[.*?\]);", script, re.S).group(1))
    assert listed == ["intro", *[c for c in TWINS if c != "glossary"]]


def test_text_reading_and_term_follow_the_edition(monkeypatch):
    monkeypatch.setenv("CBAM_LANG", "en")
    assert language.text("gate", "门") == "gate" and language.term("mean score") == "mean score"
    monkeypatch.setenv("CBAM_LANG", "zh")
    assert language.text("gate", "门") == "门" and language.term("mean score") == ZH["mean score"]
    assert language.term("blocks r=16, RGB") == "blocks r=16, RGB"  # no entry: as it is
    assert language.term("seed 3") == "种子 3"  # a numbered label, by the tables' pattern
    assert language.term("open", column="start") == "打开" != language.term("open")  # a start, not a prediction
    # a line break between Chinese characters would show as a space
    assert language.reading("门的\n作用, a\nb").data == "门的作用, a\nb"
    monkeypatch.setenv("CBAM_LANG", "fr")
    with pytest.raises(ValueError, match="CBAM_LANG must be one of"):
        language.language()
    with pytest.raises(ValueError, match="lang must be one of"):
        language.use("fr")


def test_the_chinese_labels_draw_without_a_missing_glyph(monkeypatch, tmp_path):
    """Every label the package translates, and every glossary term, drawn with the edition's font."""
    import matplotlib.pyplot as plt

    matplotlib.use("agg")
    with matplotlib.rc_context():
        monkeypatch.setenv("CBAM_LANG", "en")  # restored after the test, whatever use() sets
        language.use("zh")
        lines = [*ZH.values(), *(zh for _, zh in GLOSSARY), "−0.52 ± 0.60（百分点）"]
        fig, ax = plt.subplots(figsize=(6, 0.25 * len(lines)))
        for i, line in enumerate(lines):
            ax.text(0, i, line.replace("\n", " "))
        ax.set(ylim=(-1, len(lines)), title="通道注意力", xlabel="测试准确率（%）")
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # matplotlib warns "Glyph ... missing from font(s)"
            fig.savefig(tmp_path / "labels.png")
        plt.close(fig)


def test_the_packages_sentences_and_tables_speak_the_edition(monkeypatch):
    """What the package writes for a chapter (provenance, the plan, a table's headers and verdicts) follows
    CBAM_LANG, with the same numbers."""
    import pandas as pd

    from cbam_helpers.display import tables
    from cbam_helpers.engine.records import load_records
    from cbam_helpers.evidence import experiments

    records = [r for r in load_records("annealed") if r.configuration in experiments.EXPERIMENTS[1]]
    frame = pd.DataFrame({"comparison": ["last - none"], "verdict": ["undecided"], "mean_difference": [0.25]})
    said = {}
    for lang in ("en", "zh"):
        monkeypatch.setenv("CBAM_LANG", lang)
        shown = tables.show(frame, language.text("caption", "标题")).to_html()
        said[lang] = (tables.provenance(records), experiments.plan(1, "annealed"), shown)
    english, chinese = said["en"], said["zh"]
    assert english[0].startswith("**Provenance.**") and "来源" in chinese[0]
    numbers = lambda s: re.findall(r"\d+(?:\.\d+)?", s.split("data:")[0].split("数据：")[0])
    assert numbers(english[0]) == numbers(chinese[0])
    assert "nothing trains" in english[1] and "不训练任何东西" in chinese[1]
    assert "undecided" in english[2] and "未定" in chinese[2] and "结论" in chinese[2] and "+0.25" in chinese[2]


def test_a_chapters_own_table_is_shown_in_chinese_words_and_its_data_kept():
    import pandas as pd

    from cbam_helpers.language.frames import word, worded

    columns = pd.MultiIndex.from_tuples([("mean accuracy (%)", "mean"), ("mean accuracy (%)", "peak")],
                                        names=[None, "cue"])
    frame = pd.DataFrame([[46.1, 48.7], [72.0, 48.9]], columns=columns,
                         index=pd.Index(["no gate", "SE (average)"], name="front end"))
    frame[("as predicted", "")] = ["yes", "none, RGB"]
    shown = worded(frame)
    assert list(shown.columns) == [("平均准确率（%）", "均值标记"), ("平均准确率（%）", "峰值标记"), ("符合预测", "")]
    assert shown.columns.names == [None, "标记"] and shown.index.name == "前端"
    assert list(shown.index) == ["无门", "SE（平均值）"]
    assert list(shown.iloc[:, 2]) == ["是", "none, RGB"]  # a configuration's label stays
    assert shown.iloc[:, :2].equals(frame.iloc[:, :2].set_axis(shown.index).set_axis(shown.columns[:2], axis=1))
    assert frame.index[0] == "no gate" and frame.iloc[0, 2] == "yes"  # the chapter's own frame is untouched
    assert word("mean") == "均值" and word("mean", "cue") == "均值标记"  # the cue, not the statistic
    assert word("seeds for ±0.6") == "±0.6 所需种子数" and word("seed 12") == "种子 12"
    assert word(0.5) == 0.5 and word("cbam-avg") == "cbam-avg"


def test_in_ipython_the_chinese_edition_shows_every_dataframe_in_its_words(monkeypatch):
    import pandas as pd
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    frame = pd.DataFrame({"predicted": ["helps"], "seeds": [10]})
    try:
        with matplotlib.rc_context():
            monkeypatch.setenv("CBAM_LANG", "en")
            language.use("zh")
            shown, _ = shell.display_formatter.format(frame)
            assert "有帮助" in shown["text/html"] and "种子数" in shown["text/plain"]
            starts = pd.DataFrame({"start": ["open"], "predicted": ["open"], "gain": [1.234]})
            styled, _ = shell.display_formatter.format(starts.style.format({"gain": "{:+.1f}"}))
            # a Styler too, each cell by its own column's words, its formatting kept
            assert all(w in styled["text/html"] for w in ("起点", "打开", "未作预测", "+1.2"))
            language.use("en")
            shown, _ = shell.display_formatter.format(frame)
            assert "helps" in shown["text/html"] and "有帮助" not in shown["text/plain"]
    finally:
        InteractiveShell.clear_instance()


@pytest.mark.parametrize("chapter", TWINS)
def test_no_table_of_the_twin_keeps_an_english_word_the_edition_translates(chapter):
    """A twin executed before a table word was added to ZH still shows it in English: re-execute it. (DataFrames
    and the Stylers of tables.show; a prediction's words are read without their column, so they are not held.)"""
    import html

    from cbam_helpers.language.frames import word

    outputs = [o for c in twin(chapter)["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    tables = ["".join(o["data"]["text/html"]) for o in outputs if "text/html" in o.get("data", {})]
    cells = {html.unescape(h).strip() for t in tables if 'class="dataframe' in t or '<table id="T_' in t
               for h in re.findall(r"<t[hd][^>]*>([^<]*)</t[hd]>", t)}
    left = sorted(h for h in cells if h and word(h) != h)
    assert not left, f"English table words the edition translates: {left}; run `make zh-notebooks` or execute the twin"


def test_a_paragraph_of_chinese_is_joined_where_a_browser_would_show_a_gap():
    text = "门是乘性的：输出是分数\n乘以特征。`code` 和\n中文\n- 列表项\n  续行\n\n```python\n中文\n中文\n```\n$$\n甲\n乙\n$$"
    assert edition.unwrap(text) == ("门是乘性的：输出是分数乘以特征。`code` 和中文\n- 列表项续行\n\n"
                                    "```python\n中文\n中文\n```\n$$\n甲\n乙\n$$")
    for page in ("intro.md", "glossary.md"):
        assert edition.unwrap((edition.ZH / page).read_text()) == (edition.ZH / page).read_text()


# What may stay English where a Chinese reader reads a table or a reading: identifiers (configuration labels,
# profile names, gate names), model and data-set names, units, and the field's untranslated terms.
ENGLISH_ALLOWED = set("""
    epoch epochs MLP sigmoid Grad-CAM CBAM SE ECA ReLU AvgPool MaxPool Holm TOST SGD PyTorch torch cu CPU GPU CUDA
    PIL bf fp autocast ImageNet CIFAR- MobileNet MobileNetV ResNet- cifar jpeg tar gz none first last blocks
    expansion cbam cbam-avg cbam-spatial eca r RGB noise annealed cpu full smoke x b c e- top- px nat nats MB stem
    F p R G B channel_gate mlp weight bias cbam_helpers synthetic channel_tasks True False
    MyGate AvgTwice MLPOfTheSum NoSigmoid
""".split())
# Twins whose stored outputs wait for an idle machine to be executed again (their synthetic tasks and timings
# train and measure for minutes to an hour): their tables and readings still hold English the others no longer
# do.
AWAITING_EXECUTION = {"02c_where_to_look", "03_mobilenet", "03b_where_a_gate_goes"}


def shown_text(output):
    """The words of a table or a reading on the page: HTML tables without their markup, Markdown without its
    code spans; displayed source code (Pygments' highlight) is code, not prose."""
    data = output.get("data", {})
    html = "".join(data.get("text/html", ""))
    html = "" if 'class="highlight' in html else re.sub(r"<[^>]+>", " ", re.sub(r"<style.*?</style>", " ", html,
                                                                               flags=re.S))
    return unescape(html) + " " + re.sub(r"`[^`]*`", " ", "".join(data.get("text/markdown", "")))


@pytest.mark.parametrize("chapter", [c for c in TWINS if c not in AWAITING_EXECUTION and c != "glossary"])
def test_a_twins_tables_and_readings_hold_no_english_prose(chapter):
    cells = [c for c in twin(chapter)["cells"] if c["cell_type"] == "code"
             and not {"remove-output", "remove-cell"} & set(c["metadata"].get("tags", []))]
    text = " ".join(shown_text(o) for c in cells for o in c.get("outputs", []))
    english = {w for w in re.findall(r"[A-Za-z][A-Za-z'+_-]*", text) if w not in ENGLISH_ALLOWED}
    assert not english, sorted(english)


@pytest.mark.parametrize("chapter", [c for c in TWINS if c != "glossary"])
def test_an_english_chapter_holds_no_chinese(chapter):
    """Not in its text, its code or its outputs: the Chinese words live in the twin and the catalogue."""
    raw = (ROOT / "book" / f"{chapter}.ipynb").read_text()
    found = re.findall(r".{0,30}[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef].{0,30}", raw)
    assert not found, found[:3]


# Twins whose cells still word some label in English: translating them changes their code, and their synthetic
# tasks and timings need an idle machine for minutes to an hour to be executed again.
STRINGS_AWAITING_EXECUTION = AWAITING_EXECUTION | {"02b_which_channel_speaks"}


def english_prose(code):
    """The strings of a twin's code cell a reader of the twin would see in English: every string but a premise's
    message to the author, a legend's place, and a label the edition words when it shows it (a table's column,
    a figure's label: :func:`~cbam_helpers.language.frames.word`); an f-string is read whole."""
    from cbam_helpers.language.frames import word

    tree = ast.parse("\n".join("pass" if line.lstrip().startswith(("%", "!")) else line
                               for line in code.split("\n")))
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert) and node.msg is not None:
            skip |= {id(n) for n in ast.walk(node.msg)}
        if isinstance(node, ast.keyword) and node.arg == "loc":
            skip |= {id(n) for n in ast.walk(node.value)}
        if isinstance(node, ast.JoinedStr):
            skip |= {id(n) for n in ast.walk(node)} - {id(node)}
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.JoinedStr):
            shown = "".join(v.value if isinstance(v, ast.Constant) else "0" for v in node.values)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            shown = node.value
        else:
            continue
        words = re.findall(r"[A-Za-z][A-Za-z'+_-]*", re.sub(r"`[^`]*`", " ", shown))
        prose = re.search(r"[A-Za-z]{2,} [A-Za-z]{2,}", shown)
        if prose and word(shown.strip()) == shown.strip() and set(words) - ENGLISH_ALLOWED:
            found.append(shown)
    return found


@pytest.mark.parametrize("chapter", [c for c in TWINS if c not in STRINGS_AWAITING_EXECUTION | {"glossary"}])
def test_a_twins_code_words_nothing_in_english(chapter):
    cells = [c for c in twin(chapter)["cells"]
             if c["cell_type"] == "code" and edition.LANGUAGE_TAG not in c["metadata"].get("tags", [])]
    found = [s for c in cells for s in english_prose(edition.source(c))]
    assert not found, found


@pytest.mark.parametrize("chapter", [c for c in TWINS if c != "glossary"])
def test_no_printed_reading_turns_into_a_code_block(chapter):
    """A reading's line indented by four spaces or more would show as code, in either edition."""
    for notebook in (edition.english(chapter), twin(chapter)):
        for cell in notebook["cells"]:
            for output in cell.get("outputs", []):
                shown = "".join(output.get("data", {}).get("text/markdown", ""))
                shown = re.sub(r"```.*?```", "", shown, flags=re.S)
                indented = [line for line in shown.split("\n") if re.match(r" {4,}\S", line)
                            and not re.match(r" *([-*+]|\d+\.) ", line)]
                assert not indented, indented[:2]
