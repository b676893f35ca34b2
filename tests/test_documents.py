"""Reading bulletins: encodings, scripts, layout, front matter, and offsets that stay true."""
from __future__ import annotations

from pathlib import Path

import pytest

from loaders.corpus import extract_corpus
from loaders.documents import DocumentError, load_document

BODY = "一季度，全区引进区外到位资金１６１６．２７亿元，同比增长21.59％。"


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def values(doc, extractor) -> list[tuple[str, float]]:
    return [(m.measure, m.value) for m in extractor.extract(doc)]


def test_full_width_digits_are_read_and_quotes_keep_original_text(tmp_path, converter, extractor):
    doc = load_document(write(tmp_path, "a.txt", BODY.encode()), converter, 2025)
    ms = extractor.extract(doc)
    assert [(m.measure, m.value) for m in ms] == [("level", 161627000000.0), ("yoy_pct", 21.59)]
    for m in ms:
        assert doc.text[m.char_start:m.char_end] == m.quote
    assert "１６１６．２７亿元" in ms[0].quote


def test_gb18030_and_bom_files_decode_to_the_same_statistics(tmp_path, converter, extractor):
    gbk = load_document(write(tmp_path, "g.txt", BODY.encode("gb18030")), converter, 2025)
    bom = load_document(write(tmp_path, "b.txt", b"\xef\xbb\xbf" + BODY.encode()), converter, 2025)
    assert gbk.encoding == "gb18030" and bom.encoding == "utf-8-sig"
    assert values(gbk, extractor) == values(bom, extractor) == [("level", 161627000000.0), ("yoy_pct", 21.59)]
    m = extractor.extract(bom)[0]
    assert bom.text[m.char_start:m.char_end] == m.quote


def test_traditional_script_matches_vocabulary_but_quotes_stay_traditional(tmp_path, converter, extractor):
    text = "2024年，新疆引進區外到位資金9355.26億元，較上年同期增長11%。北疆地區引進區外到位資金5538.63億元。"
    doc = load_document(write(tmp_path, "t.md", text.encode()), converter, None)
    ms = extractor.extract(doc)
    assert doc.is_traditional
    assert [(m.measure, m.value, m.region_name, m.period_year) for m in ms] == [
        ("level", 935526000000.0, "新疆维吾尔自治区", 2024),
        ("yoy_pct", 11.0, "新疆维吾尔自治区", 2024),
        ("level", 553863000000.0, "北疆地区", 2024),
    ]
    assert "億元" in ms[0].quote and doc.text[ms[0].char_start:ms[0].char_end] == ms[0].quote


def test_words_broken_across_lines_are_rejoined(tmp_path, converter, extractor):
    text = "第二产业是招商引资\n\n重点，落实执行项目1153个，引进区外到位资金1228.29亿\n元，同比增长18.29%。"
    doc = load_document(write(tmp_path, "w.txt", text.encode()), converter, 2025)
    ms = extractor.extract(doc)
    assert [(m.measure, m.value, m.industry_name) for m in ms] == [
        ("level", 1153.0, "第二产业"), ("level", 122829000000.0, "第二产业"), ("yoy_pct", 18.29, "第二产业")]
    assert ms[1].quote.endswith("1228.29亿\n元")


def test_crlf_offsets_follow_text_mode(tmp_path, converter, extractor):
    doc = load_document(write(tmp_path, "c.txt", ("标题\r\n\r\n" + BODY).encode()), converter, 2025)
    m = extractor.extract(doc)[0]
    with open(doc.path, encoding="utf-8") as f:
        assert f.read()[m.char_start:m.char_end] == m.quote


def test_reference_year_from_front_matter_then_text_then_option(tmp_path, converter):
    fm = load_document(write(tmp_path, "f.md", f"---\nid: x\npublished: 2023-10-12\n---\n{BODY}".encode()), converter, 1999)
    assert (fm.reference_year, fm.reference_month, fm.reference_source) == (2023, 10, "front_matter")
    tx = load_document(write(tmp_path, "t.txt", f"2024年11月28日，工程合龙。2025年，计划完成。4月12日摄。{BODY}".encode()), converter, 1999)
    assert (tx.reference_year, tx.reference_month, tx.reference_source) == (2025, 4, "text")
    op = load_document(write(tmp_path, "o.txt", BODY.encode()), converter, 2021)
    assert (op.reference_year, op.reference_source) == (2021, "option")


@pytest.mark.parametrize("name,data,reason", [
    ("empty.md", b"  \n", "empty file"),
    ("binary.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR" * 10, "binary"),
    ("bad.md", b"\xff\xfe\xfa\xfb" * 10 + "增长".encode(), "undecodable"),
    ("fm.md", "---\nid: [unclosed\npublished: 2024-01-01\n---\n正文".encode(), "broken front matter"),
    ("open.md", "---\nid: x\n正文".encode(), "never closed"),
])
def test_bad_files_are_rejected_with_their_name_and_reason(tmp_path, converter, name, data, reason):
    p = write(tmp_path, name, data)
    with pytest.raises(DocumentError) as err:
        load_document(p, converter, 2025)
    assert reason in str(err.value) and name in str(err.value)


def test_one_bad_file_does_not_stop_the_others(tmp_path, vocab):
    write(tmp_path, "good.md", BODY.encode())
    write(tmp_path, "broken.md", "---\nid: [x\n---\n".encode())
    write(tmp_path, "empty.txt", b"")
    result = extract_corpus([tmp_path], vocab, 2025)
    assert [d["doc_id"] for d in result.documents] == ["good"]
    assert len(result.mentions) == 2
    assert sorted(Path(str(r["path"])).name for r in result.rejected) == ["broken.md", "empty.txt"]
    broken = next(r for r in result.rejected if str(r["path"]).endswith("broken.md"))
    assert broken["line"] == 2


def test_a_vocabulary_alias_listed_twice_names_the_file_and_line(tmp_path):
    import shutil

    from loaders.vocabulary import SEEDS_DIR, VocabularyError, load_vocabulary

    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS_DIR, seeds, ignore=shutil.ignore_patterns("raw_metrics.csv", "documents.csv",
                                                                      "rejected_documents.csv"))
    aliases = seeds / "region_aliases.csv"
    n_lines = len(aliases.read_text(encoding="utf-8").splitlines())
    with aliases.open("a", encoding="utf-8") as f:
        f.write("伊犁州,654000,\n")
    with pytest.raises(VocabularyError) as err:
        load_vocabulary(seeds)
    assert "region_aliases.csv" in str(err.value) and f":{n_lines + 1}:" in str(err.value)


def test_a_copy_whose_figures_lost_their_digits_is_refused(tmp_path, converter):
    spam = ("一季度，全区引进区外到位资金亿元，同比增长%。北疆地区到位资金亿元，占全区总量的%；"
            "南疆地区同比增长%。热门推荐：招商加盟！")
    with pytest.raises(DocumentError) as err:
        load_document(write(tmp_path, "spam.md", spam.encode()), converter, 2025)
    assert "lost their digits" in str(err.value) and "spam.md:1" in str(err.value)
    # one missing figure in an otherwise intact bulletin is not corruption
    fine = BODY + "其中部分项目投资达亿元规模。"
    assert load_document(write(tmp_path, "fine.md", fine.encode()), converter, 2025).doc_id == "fine"


FRONT_MATTER_BLOCKS = [
    "id: d001\nurl: https://example.org/a/b?c=1\ntitle: 2025年一季度新疆引进区外到位资金1616.27亿元\npublished: 2025-04-21\n",
    "title: 一季度\npublished: 2025-4-1\n",
    "id: 123\ntitle: x\n",                     # a number: YAML's int
    "title: yes\n",                            # YAML 1.1's boolean
    "published: 2025-04-21 10:30:00\n",        # a time of day
    "title: '引号'\n",                          # quoted
    "title: a: b\n",                           # not a plain scalar
    "title: 标题 # a comment\n",
    "tags:\n  - 新疆\n",                        # a list
    "published: 2025-02-30\n",                 # no such day: YAML's error
    "\n\nid: x\n\n",
    "title: ~\n",
    "url: http://x.cn/1:2\n",
    'id: "d002"\ntitle: \npublished: 2020-02-12\n',   # the corpus's: a quoted id, an empty title
    'id: "a # b: c"\ntitle:\n',
    'id: ""\n',
    'id: "a\\tb"\n',                          # an escape: YAML reads it
    'id: "x" # c\n',
    'id: "a\tb"\n',
]


@pytest.mark.parametrize("block", FRONT_MATTER_BLOCKS)
def test_front_matter_without_yaml_reads_what_yaml_reads(block):
    """The fast path for plain `key: value` front matter gives YAML's answer or defers to YAML."""
    import yaml

    from loaders.documents import _simple_front_matter

    fast = _simple_front_matter(block)
    if fast is None:
        return  # YAML reads it
    assert fast == (yaml.safe_load(block) or {})
    assert {type(v) for v in fast.values()} == {type(v) for v in (yaml.safe_load(block) or {}).values()}


def test_front_matter_fast_path_takes_the_usual_bulletin():
    from loaders.documents import _simple_front_matter

    assert _simple_front_matter(FRONT_MATTER_BLOCKS[0]) is not None
    assert _simple_front_matter("id: 123\n") is None and _simple_front_matter("title: yes\n") is None
    assert _simple_front_matter('id: "d002"\ntitle: \n') == {"id": "d002", "title": None}


def _paths_as_pathlib_finds_them(paths: list[Path]) -> list[Path]:
    """iter_document_paths as it was written with pathlib (rglob, sorted, resolve per file)."""
    from loaders.documents import DOC_SUFFIXES

    found: list[Path] = []
    for p in paths:
        if p.is_dir():
            found.extend(sorted(q for q in p.rglob("*") if q.is_file() and q.suffix.lower() in DOC_SUFFIXES
                                and q.name.lower() != "readme.md"))
        else:
            found.append(p)
    seen: set[Path] = set()
    unique = []
    for p in found:
        if (key := p.resolve()) not in seen:
            seen.add(key)
            unique.append(p)
    return unique


def test_document_paths_keep_pathlib_s_order_and_strings(tmp_path: Path, monkeypatch) -> None:
    """The cache key and documents.path are these strings: the scandir walk must give what
    sorted(rglob) gave, links, hidden files, odd suffixes and folders named twice included."""
    from loaders.documents import iter_document_paths

    root = tmp_path / "corpus"
    for rel in ("a.md", "a-b/c.md", "a/b.md", "a/b/c.txt", "a/B.MD", "Z.htm", "z.html", "x.pdf",
                ".hidden.md", ".md", "name.", "README.md", "sub/ReadMe.MD", "sub/deep/er/f.md",
                "sub/notes.csv", "é.md", "e\u0301.md", "b c.md"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("2023年\n", encoding="utf-8")
    (root / "link-to-a.md").symlink_to(root / "a.md")
    (root / "folder-link").symlink_to(root / "sub", target_is_directory=True)   # not followed
    (root / "broken.md").symlink_to(root / "nowhere.md")
    (root / "loop.md").symlink_to(root / "loop.md")
    other = tmp_path / "other"
    other.mkdir()
    (other / "outside.md").write_text("2023年\n", encoding="utf-8")
    (root / "sub" / "outside-link.md").symlink_to(other / "outside.md")
    monkeypatch.chdir(tmp_path)
    cases = [[root], [Path("corpus")], [Path("./corpus/")], [root, root / "sub"], [root / "a", root],
             [other / "outside.md", root], [root / "a.md", root / "link-to-a.md", root],
             [Path("corpus/../corpus")], [root / "missing.md", root / "folder-link"]]
    for paths in cases:
        mine, theirs = iter_document_paths(paths), _paths_as_pathlib_finds_them(paths)
        assert [str(p) for p in mine] == [str(p) for p in theirs], paths
    monkeypatch.chdir(root)
    assert [str(p) for p in iter_document_paths([Path(".")])] == \
        [str(p) for p in _paths_as_pathlib_finds_them([Path(".")])]
