"""Look-ups made faster give what the plain ones gave: regions from a source address, lineages."""
from __future__ import annotations

from loaders.extraction import Extractor
from loaders.vocabulary import load_vocabulary


def _plain_home_from_url(vocab, url: str) -> str:
    path = url.lower().split("//", 1)[-1]
    found = [code for code, r in vocab.regions.items()
             if (word := r.name_en.split(" ")[0].lower()) and len(word) >= 5 and word in path]
    top = min((len(vocab.lineage(c)) for c in found), default=0)
    found = [c for c in found if len(vocab.lineage(c)) == top]
    return found[0] if len(found) == 1 else ""


def test_home_from_url_finds_what_a_scan_of_every_region_finds():
    vocab = load_vocabulary()
    places = Extractor(vocab).places
    words = [r.name_en.split(" ")[0].lower() for r in list(vocab.regions.values())[::97]]
    urls = ["https://www.xinxiang.gov.cn/xinxiang_1114/a.html", "http://news.example.cn/urumqi/2023/b.htm",
            "https://example.org/none/", "", "https://x.cn/" + "/".join(words[:5]),
            *(f"https://news.cn/{w}_12/{w2}.html" for w, w2 in zip(words, words[1:]))]
    decided = 0
    for url in urls:
        assert places._home_from_url(url) == _plain_home_from_url(vocab, url), url
        decided += places._home_from_url(url) != ""
    assert decided >= 3


def test_remembered_lineages_are_the_walked_ones():
    vocab = load_vocabulary()
    for code in list(vocab.regions)[::50]:
        walked, c = [], code
        while c and c in vocab.regions and c not in walked:
            walked.append(c)
            c = vocab.regions[c].parent
        assert vocab.lineage(code) == walked == vocab.lineage(code)
        assert vocab.province_of(code) == next((x for x in walked if vocab.level_class(x) == "province"), "")
    assert vocab.lineage("no-such-code") == [] and vocab.province_of("no-such-code") == ""


def test_a_mention_comes_back_from_a_pool_worker_as_it_was_sent():
    import copy
    import pickle
    from pathlib import Path

    from loaders.corpus import extract_corpus

    bulletins = Path(__file__).resolve().parent.parent / "data" / "bulletins"
    mentions = extract_corpus([bulletins], load_vocabulary()).mentions
    assert len(mentions) > 100
    assert pickle.loads(pickle.dumps(mentions, protocol=pickle.HIGHEST_PROTOCOL)) == mentions
    assert [copy.copy(m) for m in mentions] == mentions


def test_overlapping_period_phrases_are_left_out_as_a_look_at_every_kept_one_would():
    import random

    from loaders.periods import Period, without_overlaps

    def plain(found):
        kept = []
        for f in sorted(found, key=lambda f: (-f[3], f[0])):
            if not any(f[0] < k[1] and k[0] < f[1] for k in kept):
                kept.append(f)
        return sorted(kept, key=lambda f: f[0])

    rng = random.Random(3)
    for _ in range(2000):
        found = []
        for _ in range(rng.randint(0, 25)):
            a = rng.randint(0, 60)
            found.append((a, a + rng.randint(0 if rng.random() < 0.05 else 1, 9), Period(2023, 6, "ytd"),
                          rng.choice((5, 10, 20, 30))))
        found.sort(key=lambda f: (f[0], -f[3]))
        assert without_overlaps(found) == plain(found)
