"""Tests for spinemed.corpus.dedup: normalisation, CJK-aware shingles, MinHash, LSH dedup."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import xxhash

from spinemed.corpus.dedup import (
    Deduper,
    DedupResult,
    MinHasher,
    _LSHIndex,
    near_duplicate_pairs,
    normalize_text,
    optimal_lsh_params,
    shingles,
)

EN_A = (
    "Lumbar disc herniation occurs when the nucleus pulposus protrudes through a tear in the "
    "annulus fibrosus and compresses the adjacent nerve root. Most patients present with low back "
    "pain followed by radicular pain that radiates below the knee in a dermatomal distribution. "
    "The straight leg raise test is sensitive but not specific, whereas the crossed straight leg "
    "raise is highly specific. Magnetic resonance imaging is the modality of choice when red flags "
    "are present or symptoms persist beyond six weeks of conservative care. Most herniations "
    "regress spontaneously, so physiotherapy, analgesics and activity modification remain first "
    "line before microdiscectomy is considered."
)
EN_B = (
    "Adolescent idiopathic scoliosis is a three dimensional deformity of the spine that appears "
    "during the growth spurt in otherwise healthy children. Screening relies on the forward bend "
    "test and a scoliometer, and standing full length radiographs confirm the diagnosis by "
    "measuring the Cobb angle. Curves below twenty degrees are observed, braces are prescribed "
    "for progressive curves between twenty five and forty degrees in skeletally immature "
    "patients, and posterior spinal fusion with segmental instrumentation is reserved for curves "
    "beyond forty five to fifty degrees. Skeletal maturity is judged from the Risser sign."
)
ZH_A = (
    "腰椎间盘突出症是指椎间盘的纤维环破裂后髓核组织突出压迫相邻神经根所引起的一组临床综合征。"
    "患者多表现为腰痛伴下肢放射痛，疼痛常沿坐骨神经走行分布。磁共振成像是首选的影像学检查方法。"
    "大多数患者经卧床休息、药物治疗和康复锻炼等保守治疗后症状可明显缓解，只有少数经过规范保守"
    "治疗无效或出现马尾综合征的患者才需要手术治疗。"
)
ZH_B = (
    "青少年特发性脊柱侧凸是一种在生长发育期出现的脊柱三维畸形，多见于十到十六岁的女性青少年。"
    "早期筛查主要依靠前屈试验和脊柱侧弯测量仪，站立位全脊柱正侧位片用于测量科布角并明确诊断。"
    "科布角小于二十度者以定期随访观察为主，二十五到四十度且仍有生长潜力者需要佩戴支具，超过四"
    "十五度者通常需要行后路脊柱融合内固定术。"
)
MIXED_A = (
    "患者男性，56岁，因腰痛伴左下肢放射痛3个月入院。MRI shows a left paracentral L4-L5 disc "
    "herniation compressing the traversing L5 nerve root，直腿抬高试验阳性（45°），左足背伸肌力4级。"
    "After six weeks of failed conservative treatment a microdiscectomy was performed，术后症状明显缓解。"
)


def jaccard(a: str, b: str, k: int = 3) -> float:
    sa, sb = shingles(a, k), shingles(b, k)
    return len(sa & sb) / len(sa | sb)


def replace_words(text: str, positions: dict[int, str]) -> str:
    words = text.split(" ")
    for pos, word in positions.items():
        words[pos] = word
    return " ".join(words)


def replace_chars(text: str, positions: dict[int, str]) -> str:
    chars = list(text)
    for pos, ch in positions.items():
        chars[pos] = ch
    return "".join(chars)


# --- normalisation and shingles --------------------------------------------------------------


def test_normalize_text_removes_formatting():
    assert normalize_text("  MRI   showed,\n\tL4-L5 “bulging”!  ") == "mri showed l4 l5 bulging"
    # full-width letters, digits, punctuation and the ideographic space
    assert normalize_text("ＭＲＩ　ｓｈｏｗｅｄ，Ｌ４－Ｌ５") == "mri showed l4 l5"
    # CJK punctuation goes; spaces next to Han characters are formatting
    assert normalize_text("腰椎 间盘突出，MRI 检查。") == "腰椎间盘突出mri检查"
    # clinically meaningful symbols stay
    assert normalize_text("Cobb ≥ 40° ± 5") == "cobb ≥ 40° ± 5"
    assert normalize_text("") == ""
    with pytest.raises(TypeError, match="text must be str"):
        normalize_text(None)  # type: ignore[arg-type]


def test_shingles_are_cjk_aware_and_stable():
    h = lambda s: xxhash.xxh32_intdigest(s.encode("utf-8"))  # noqa: E731
    # English: word 3-grams
    assert shingles("The disc, herniated!") == {h("the disc herniated")}
    assert shingles("a b c d") == {h("a b c"), h("b c d")}
    # Chinese: character 3-grams, punctuation ignored
    assert shingles("腰椎间盘。") == {h("腰 椎 间"), h("椎 间 盘")}
    # mixed text: one token per Han character, words for Latin/digit runs
    assert shingles("MRI示L4") == {h("mri 示 l4")}
    assert shingles("左侧L5神经根", k=2) == {h(s) for s in ("左 侧", "侧 l5", "l5 神", "神 经", "经 根")}
    # fewer than k tokens: one shingle of the whole text
    assert shingles("spine") == {h("spine")}
    assert shingles("") == {h("")}
    assert len(shingles(ZH_A)) > 100
    with pytest.raises(ValueError, match="shingle size k"):
        shingles("abc", k=0)


# --- MinHash -----------------------------------------------------------------------------------


def test_minhash_signature_estimates_jaccard():
    mh = MinHasher(num_perm=256, seed=7)
    a, b = set(range(0, 600)), set(range(200, 800))  # Jaccard 400 / 800 = 0.5
    sa, sb = mh.signature(a), mh.signature(b)
    assert sa.dtype == np.uint32 and sa.shape == (256,)
    assert abs(np.mean(sa == sb) - 0.5) < 0.08
    # order, duplicates, container type and chunking do not matter
    assert np.array_equal(mh.signature(sorted(a, reverse=True) + [5, 5, 5]), sa)
    assert np.array_equal(mh.signature(np.array(sorted(a), dtype=np.uint32)), sa)
    big = np.arange(10_000, dtype=np.uint64)  # spans several internal blocks
    assert np.array_equal(mh.signature(big), np.minimum(mh.signature(big[:5000]), mh.signature(big[5000:])))
    # same seed -> same signature; other seed -> different permutations
    assert np.array_equal(MinHasher(256, seed=7).signature(a), sa)
    assert not np.array_equal(MinHasher(256, seed=8).signature(a), sa)


def test_minhash_rejects_bad_input():
    mh = MinHasher(16)
    with pytest.raises(ValueError, match="empty"):
        mh.signature(set())
    with pytest.raises(ValueError, match="non-negative"):
        mh.signature([1, -2])
    with pytest.raises(ValueError, match="non-negative"):
        mh.signature(np.array([3, -1]))
    with pytest.raises(ValueError, match="num_perm"):
        MinHasher(0)


def test_signatures_identical_across_processes():
    """Signatures must not depend on PYTHONHASHSEED (no built-in hash())."""
    code = (
        "import json, sys; from spinemed.corpus.dedup import MinHasher; "
        "print(json.dumps(MinHasher(64, seed=3).signature_text(sys.stdin.read()).tolist()))"
    )
    here = MinHasher(64, seed=3).signature_text(MIXED_A).tolist()
    for hash_seed in ("1", "12345"):
        out = subprocess.run(
            [sys.executable, "-c", code],
            input=MIXED_A,
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
        )
        assert json.loads(out.stdout) == here


# --- LSH parameters and the bucket table ---------------------------------------------------------


@pytest.mark.parametrize(
    ("threshold", "weights", "expected"),
    [  # reference values from datasketch's _optimal_param objective integrated with scipy quad
        (0.8, (0.5, 0.5), (9, 13)),
        (0.5, (0.5, 0.5), (25, 5)),
        (0.9, (0.5, 0.5), (5, 25)),
        (0.8, (0.1, 0.9), (14, 9)),
        (0.5, (0.1, 0.9), (32, 4)),
    ],
)
def test_optimal_lsh_params(threshold, weights, expected):
    assert optimal_lsh_params(threshold, 128, weights) == expected


def test_bucket_table_matches_reference_through_rebuilds():
    """The open-addressing table must return exactly the items sharing a band key, also after
    growing (rebuilds) and after a bulk load."""
    rng = np.random.default_rng(0)
    index = _LSHIndex(num_perm=32, bands=8, rows=4, seed=1)
    sigs = rng.integers(0, 2**32, size=(1500, 32), dtype=np.uint32)
    sigs[1000:1100, :4] = sigs[0, :4]  # 100 items share band 0 with item 0
    sigs[1100:1150, 4:8] = sigs[1, 4:8]  # 50 share band 1 with item 1
    reference: dict[int, set[int]] = {}
    for i, sig in enumerate(sigs):
        keys = index.band_keys(sig)
        for key in keys:
            reference.setdefault(key, set()).add(i)
        assert index.add(sig, keys) == i
    assert len(index) == 1500 and index._mask + 1 > _LSHIndex._MIN_CAPACITY  # it has grown
    bulk = _LSHIndex(num_perm=32, bands=8, rows=4, seed=1)
    bulk.add_many(sigs)
    for i in (0, 1, 2, 999, 1000, 1120, 1499):
        keys = index.band_keys(sigs[i])
        expected = sorted(set().union(*(reference[k] for k in keys)))
        assert index.candidates(keys) == expected
        assert bulk.candidates(keys) == expected
    assert len(index.candidates(index.band_keys(sigs[0]))) == 101
    assert np.array_equal(index.all_signatures(), sigs)


# --- Deduper -----------------------------------------------------------------------------------


def test_exact_duplicates_after_formatting_changes():
    dd = Deduper()
    assert dd.check("a", EN_A) == DedupResult("unique", None, 0.0)
    variants = [
        EN_A.upper(),
        "  " + EN_A.replace(" ", " \n\t ") + "  ",
        EN_A.replace(",", "").replace(".", ""),
        EN_A.translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)}),  # full-width
    ]
    for i, text in enumerate(variants):
        assert dd.check(f"v{i}", text) == DedupResult("exact", "a", 1.0)
    assert dd.check("zh", ZH_A).status == "unique"
    assert dd.check("zh-spaced", " ".join(ZH_A).replace("，", ",")) == DedupResult("exact", "zh", 1.0)
    assert dd.counts == {"unique": 2, "exact": 5, "near": 0}
    assert len(dd) == 2


def test_english_near_duplicate():
    dd = Deduper()
    assert dd.check("a", EN_A).status == "unique"
    edited = replace_words(EN_A, {10: "a", 40: "often", 75: "usually"})  # 3 words changed
    true_j = jaccard(EN_A, edited)
    assert 0.8 < true_j < 0.9
    result = dd.check("a-edited", edited)
    assert result.status == "near" and result.duplicate_of == "a"
    assert 0.8 <= result.similarity < 1.0 and abs(result.similarity - true_j) < 0.1
    unrelated = dd.check("b", EN_B)
    assert unrelated.status == "unique" and unrelated.duplicate_of is None and unrelated.similarity < 0.3
    assert dd.counts == {"unique": 2, "exact": 0, "near": 1} and len(dd) == 2


def test_chinese_near_duplicate():
    dd = Deduper()
    assert 140 <= len(ZH_A) <= 160
    assert dd.check("zh-a", ZH_A).status == "unique"
    edited = replace_chars(ZH_A, {20: "的", 70: "及", 120: "后"})  # 3 characters changed
    true_j = jaccard(ZH_A, edited)
    assert 0.85 < true_j < 0.95
    result = dd.check("zh-a-edited", edited)
    assert result.status == "near" and result.duplicate_of == "zh-a"
    assert abs(result.similarity - true_j) < 0.1
    assert dd.check("zh-b", ZH_B).status == "unique"


def test_mixed_language_near_duplicate():
    dd = Deduper()
    dd.check("mixed", MIXED_A)
    edited = MIXED_A.replace("56岁", "57岁").replace("six weeks", "six  weeks,")
    result = dd.check("mixed-edited", edited)
    assert result.status == "near" and result.duplicate_of == "mixed"
    assert dd.check("en", EN_A).status == "unique"
    assert dd.check("zh", ZH_A).status == "unique"


def test_first_seen_is_kept_and_flagged_items_are_not_indexed():
    dd = Deduper()
    dd.check("first", EN_A)
    second = replace_words(EN_A, {10: "a", 40: "often"})
    assert dd.check("second", second).duplicate_of == "first"
    # an exact copy of a flagged item points at the kept item, not the flagged one
    again = dd.check("third", second.upper())
    assert again.status == "near" and again.duplicate_of == "first"
    assert len(dd) == 1


def test_add_false_queries_without_inserting():
    dd = Deduper()
    dd.check("a", EN_A)
    assert dd.check("q1", EN_A.lower(), add=False) == DedupResult("exact", "a", 1.0)
    assert dd.check("q2", EN_B, add=False).status == "unique"
    assert len(dd) == 1
    # not indexed: the same text is still unique, and only now gets added
    assert dd.check("b", EN_B).status == "unique"
    assert dd.check("b2", EN_B) == DedupResult("exact", "b", 1.0)
    assert dd.counts == {"unique": 3, "exact": 2, "near": 0}  # add=False queries are counted too


def test_deterministic_across_fresh_dedupers():
    items = [("a", EN_A), ("b", EN_B), ("c", replace_words(EN_A, {5: "x"})), ("d", ZH_A),
             ("e", replace_chars(ZH_A, {30: "甲"})), ("f", MIXED_A), ("g", ZH_B.upper())]
    runs = []
    for _ in range(2):
        dd = Deduper()
        runs.append([dd.check(k, t) for k, t in items])
    assert runs[0] == runs[1]
    assert [r.status for r in runs[0]] == ["unique", "unique", "near", "unique", "near", "unique", "unique"]


def test_lower_threshold_catches_heavier_edits():
    edited = replace_words(
        EN_A, {6: "the", 18: "and", 30: "the", 42: "and", 54: "the", 66: "and", 78: "the"}
    )
    assert 0.55 < jaccard(EN_A, edited) < 0.7
    strict, loose = Deduper(0.8), Deduper(0.5)
    for dd in (strict, loose):
        dd.check("a", EN_A)
    assert strict.check("edited", edited).status == "unique"
    loose_result = loose.check("edited", edited)
    assert loose_result.status == "near" and loose_result.duplicate_of == "a"
    assert loose.check("b", EN_B).status == "unique"
    assert (strict.bands, strict.rows) == (14, 9) and (loose.bands, loose.rows) == (32, 4)


@pytest.mark.parametrize("bad", [0, 1, 0.0, 1.0, -0.2, 1.5, float("nan"), True, "0.8", None])
def test_threshold_validated(bad):
    with pytest.raises(ValueError, match="threshold"):
        Deduper(threshold=bad)
    with pytest.raises(ValueError, match="threshold"):
        near_duplicate_pairs({"a": "x"}, threshold=bad)


def test_bad_arguments_name_the_problem():
    with pytest.raises(ValueError, match="shingle size k"):
        Deduper(k=0)
    with pytest.raises(ValueError, match="weights"):
        Deduper(weights=(-1, 1))
    dd = Deduper()
    with pytest.raises(TypeError, match="key must be str"):
        dd.check(1, "text")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="item 'k1'"):
        dd.check("k1", None)  # type: ignore[arg-type]


def test_save_load_round_trip(tmp_path):
    dd = Deduper(threshold=0.6, num_perm=64, seed=5)
    corpus = {"a": EN_A, "b": EN_B, "c": ZH_A, "d": ZH_B, "e": MIXED_A, "a2": EN_A.upper()}
    for key, text in corpus.items():
        dd.check(key, text)
    queries = [
        EN_A,
        replace_words(EN_A, {10: "a", 40: "often", 75: "usually"}),
        replace_chars(ZH_A, {20: "的", 70: "及"}),
        MIXED_A.replace("56岁", "57岁"),
        "An unrelated sentence about knee arthroplasty outcomes in elderly patients.",
    ]
    expected = [dd.check(f"q{i}", q, add=False) for i, q in enumerate(queries)]
    assert [r.status for r in expected] == ["exact", "near", "near", "near", "unique"]

    dd.save(tmp_path / "index")
    assert sorted(p.name for p in (tmp_path / "index").iterdir()) == [
        "dedup.json", "exact_hashes.npy", "keys.json", "signatures.npy"
    ]
    loaded = Deduper.load(tmp_path / "index")
    assert len(loaded) == len(dd) == 5
    assert loaded.counts == dd.counts
    assert (loaded.threshold, loaded.num_perm, loaded.seed, loaded.bands, loaded.rows) == (
        0.6, 64, 5, dd.bands, dd.rows
    )
    assert [loaded.check(f"q{i}", q, add=False) for i, q in enumerate(queries)] == expected
    # threshold override re-derives the banding but keeps the stored signatures
    strict = Deduper.load(tmp_path / "index", threshold=0.95)
    assert strict.check("q1", queries[1], add=False).status == "unique"
    assert strict.check("q0", queries[0], add=False).status == "exact"


def test_load_rejects_mismatched_index(tmp_path):
    dd = Deduper(num_perm=32)
    dd.check("a", EN_A)
    path = dd.save(tmp_path / "index")
    meta = json.loads((path / "dedup.json").read_text())
    (path / "dedup.json").write_text(json.dumps({**meta, "hash_scheme": "old"}))
    with pytest.raises(ValueError, match="hash scheme"):
        Deduper.load(path)
    (path / "dedup.json").write_text(json.dumps({**meta, "size": 2}))
    with pytest.raises(ValueError, match="signatures.npy"):
        Deduper.load(path)
    with pytest.raises(FileNotFoundError, match="dedup.json"):
        Deduper.load(tmp_path / "missing")


def test_near_duplicate_pairs_reports_all_pairs():
    a1 = replace_words(EN_A, {10: "a"})
    a2 = replace_words(a1, {60: "often"})
    pairs = near_duplicate_pairs({"a": EN_A, "b": EN_B, "a1": a1, "z": ZH_A, "a2": a2, "a3": EN_A.lower()})
    assert [(x, y) for x, y, _ in pairs] == [
        ("a", "a1"), ("a", "a2"), ("a1", "a2"), ("a", "a3"), ("a1", "a3"), ("a2", "a3")
    ]
    sims = {(x, y): s for x, y, s in pairs}
    assert sims[("a", "a3")] == 1.0
    assert all(0.8 <= s <= 1.0 for s in sims.values())
    assert near_duplicate_pairs({"a": EN_A, "b": EN_B}) == []
