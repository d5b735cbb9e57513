"""Report judge (strict parsing, re-asks, failure accounting) and the human-vs-judge agreement tool."""

import asyncio
import hashlib
import json
import math

import pytest

from spinemed.agreement import agreement, main, pearson, quadratic_weighted_kappa, rankdata, spearman
from spinemed.judge import (
    DEFAULT_PROMPT_DIR,
    JUDGEMENT_SCHEMA,
    JudgeParseError,
    judge_reports,
    judge_reports_sync,
    load_prompts,
    parse_judgement,
)
from spinemed.llm.base import ChatResult, LLMError
from spinemed.llm.client import LLMClient
from spinemed.scoring import DIMENSIONS, score_predictions

GOOD = {d: {"score": 4, "reason": f"{d} is mostly right"} for d in DIMENSIONS}


def reply(scores=None, **overrides):
    obj = {d: {"score": (scores or {}).get(d, 4), "reason": "ok"} for d in DIMENSIONS}
    obj.update(overrides)
    return json.dumps(obj)


# --------------------------------------------------------------------------------------
# Strict parsing
# --------------------------------------------------------------------------------------


def test_parse_bare_json():
    scores, reasons = parse_judgement(json.dumps(GOOD))
    assert scores == {d: 4 for d in DIMENSIONS}
    assert reasons["diagnosis"] == "diagnosis is mostly right"


def test_parse_fenced_json_with_prose():
    text = "Here is my grading.\n```json\n" + reply({"diagnosis": 2}) + "\n```\nHope this helps."
    scores, _ = parse_judgement(text)
    assert scores["diagnosis"] == 2 and scores["coverage"] == 4


def test_parse_ignores_braces_in_prose_that_are_not_json():
    scores, _ = parse_judgement("Set {L4, L5} noted. " + reply())
    assert set(scores) == set(DIMENSIONS)


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty"),
        ("All dimensions deserve a 4.", "no JSON object"),
        (reply() + "\n" + reply(), "2 JSON objects"),
        (json.dumps({d: GOOD[d] for d in DIMENSIONS[:-1]}), "missing dimension(s) interpretability"),
        (reply(clarity={"score": 3, "reason": "x"}), "unknown key(s) clarity"),
        (reply({"diagnosis": 0}), "diagnosis: score 0 is outside 1-5"),
        (reply({"diagnosis": 6}), "outside 1-5"),
        (reply({"diagnosis": 4.0}), "must be an integer"),
        (reply({"diagnosis": 4.5}), "must be an integer"),
        (reply({"diagnosis": "4"}), "must be an integer"),
        (reply({"diagnosis": True}), "must be an integer"),
        (reply(diagnosis=4), "expected an object"),
        (reply(diagnosis={"score": 4, "reason": "  "}), "reason must be a non-empty string"),
        (reply(diagnosis={"score": 4, "reason": "x", "confidence": 0.9}), "exactly the keys"),
    ],
)
def test_parse_rejects(text, message):
    with pytest.raises(JudgeParseError) as err:
        parse_judgement(text)
    assert message in str(err.value)


def test_schema_matches_parser():
    assert JUDGEMENT_SCHEMA["required"] == list(DIMENSIONS) and JUDGEMENT_SCHEMA["additionalProperties"] is False
    entry = JUDGEMENT_SCHEMA["properties"]["diagnosis"]
    assert entry["properties"]["score"] == {"type": "integer", "minimum": 1, "maximum": 5}
    assert entry["required"] == ["score", "reason"] and entry["additionalProperties"] is False


# --------------------------------------------------------------------------------------
# Prompts
# --------------------------------------------------------------------------------------


def test_prompt_v1_hash_covers_both_files():
    prompts = load_prompts("v1")
    folder = DEFAULT_PROMPT_DIR / "v1"
    digest = hashlib.sha256()
    for name in ("system.md", "user.md"):
        digest.update(name.encode() + b"\0" + (folder / name).read_bytes() + b"\0")
    assert prompts.version == "v1" and prompts.sha256 == digest.hexdigest()
    for d in DIMENSIONS:
        assert d in prompts.system


def test_prompt_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"v9.*prompt versions in .*\['v1'\]"):
        load_prompts("v9")
    (tmp_path / "v2").mkdir()
    (tmp_path / "v2" / "system.md").write_text("Grade imaging_report and diagnosis.")
    (tmp_path / "v2" / "user.md").write_text("{{ report }}")
    with pytest.raises(ValueError, match="does not name dimension.*patient_guidance"):
        load_prompts("v2", tmp_path)


# --------------------------------------------------------------------------------------
# Running the judge through LLMClient with a fake backend
# --------------------------------------------------------------------------------------


class FakeJudge:
    """A `Backend` whose reply is chosen per request by `script(request, call_number)`."""

    name = "fake"

    def __init__(self, script, model="fake-judge-1"):
        self.script, self.model, self.requests = script, model, []

    async def complete(self, request):
        self.requests.append(request)
        out = self.script(request, len(self.requests))
        if isinstance(out, Exception):
            raise out
        return ChatResult(text=out, model=request.model or self.model, backend=self.name)


ITEMS = [
    {"id": "m1", "kind": "text_mcq", "answer": "B"},
    {"id": "r1", "kind": "report", "case": "58M, low back pain with left leg pain.", "reference": "L4-L5 herniation.", "language": "en"},
    {"id": "r2", "kind": "report", "case": "Neck pain.", "report": {"diagnosis": "C5-C6 spondylosis"}},
]
OUTPUTS = ["B", "Report: L4-L5 left paracentral herniation.", "Report: cervical spondylosis C5-C6."]


def test_judge_scores_reports_and_records_metadata():
    backend = FakeJudge(lambda req, n: reply({"diagnosis": 5} if "L4-L5 left" in req.messages[1]["content"] else {}))
    run = judge_reports_sync(ITEMS, OUTPUTS, LLMClient(backend), response_format={"type": "json_object"})
    assert [r.id for r in run.results] == ["r1", "r2"]  # the MCQ item is skipped
    assert all(r.ok and r.attempts == 1 for r in run.results)
    assert len(backend.requests) == 2
    req = next(r for r in backend.requests if "L4-L5 left" in r.messages[1]["content"])
    assert req.temperature == 0.0 and req.model == "fake-judge-1" and req.response_format == {"type": "json_object"}
    user = req.messages[1]["content"]
    assert "58M, low back pain" in user and "L4-L5 herniation." in user and "(language: en)" in user
    assert req.messages[0]["content"] == load_prompts("v1").system
    info = run.info()
    assert info["judge_model"] == "fake-judge-1" and info["backend"] == "fake"
    assert info["prompt_version"] == "v1" and info["prompt_hash"] == load_prompts("v1").sha256
    assert info["judged"] == 2 and info["failed"] == 0 and info["temperature"] == 0.0
    scores = run.scores()
    assert scores[0] is None and scores[1]["diagnosis"] == 5 and scores[2]["diagnosis"] == 4
    # The reference given as a SpineBench report dict reaches the judge too.
    other = next(r for r in backend.requests if r is not req)
    assert "C5-C6 spondylosis" in other.messages[1]["content"]


def test_judge_reasks_with_parse_error_then_succeeds():
    def script(req, n):
        if req.messages[-1]["role"] == "user" and "could not be used" in req.messages[-1]["content"]:
            return reply()
        return "Scores: " + reply({"diagnosis": 9})

    backend = FakeJudge(script)
    run = judge_reports_sync(ITEMS[:2], OUTPUTS[:2], LLMClient(backend))
    (res,) = run.results
    assert res.ok and res.attempts == 2
    reask = backend.requests[1].messages
    assert len(reask) == 4 and reask[2]["role"] == "assistant" and "diagnosis: score 9 is outside 1-5" in reask[3]["content"]
    assert all(r.temperature == 0.0 for r in backend.requests)


def test_judge_failure_is_counted_never_scored():
    backend = FakeJudge(lambda req, n: "I would give it a 4 overall.")
    run = judge_reports_sync(ITEMS, OUTPUTS, LLMClient(backend), max_retries=2)
    assert len(backend.requests) == 6  # 2 reports x (1 + 2 re-asks)
    assert [r.status for r in run.results] == ["invalid", "invalid"]
    assert all(r.attempts == 3 and "no JSON object" in r.error for r in run.results)
    assert run.scores() == [None, None, None]
    assert run.info()["failed"] == 2 and run.info()["failures"][0] == {"id": "r1", "status": "invalid", "error": "no JSON object found in the reply"}

    results = score_predictions(ITEMS, OUTPUTS, run)
    assert results["report"]["judged"] == 0 and results["report"]["not_judged"] == 2
    assert results["scores"]["report"] is None and results["scores"]["total"] is None
    assert results["judge"]["failed"] == 2


def test_judge_partial_failure_and_endpoint_error():
    def script(req, n):
        if "cervical" in req.messages[1]["content"]:
            return LLMError("HTTP 400: context too long")
        return reply({d: 5 for d in DIMENSIONS})

    run = judge_reports_sync(ITEMS, OUTPUTS, LLMClient(FakeJudge(script), retries=0))
    assert [r.status for r in run.results] == ["ok", "error"]
    assert "context too long" in run.results[1].error
    results = score_predictions(ITEMS, OUTPUTS, run)
    assert results["report"]["judged"] == 1 and results["report"]["not_judged"] == 1
    assert results["scores"]["report"] == pytest.approx(100.0)
    assert results["judge"]["prompt_version"] == "v1"
    assert any("1 of 2 report items not judged" in w for w in results["warnings"])


def test_judge_missing_output_sends_nothing():
    backend = FakeJudge(lambda req, n: reply())
    run = judge_reports_sync(ITEMS, ["B", None, OUTPUTS[2]], LLMClient(backend))
    assert [r.status for r in run.results] == ["missing_output", "ok"]
    assert len(backend.requests) == 1


def test_judge_async_and_input_errors():
    client = LLMClient(FakeJudge(lambda req, n: reply()))

    async def main():
        run = await judge_reports(ITEMS, OUTPUTS, client)
        with pytest.raises(RuntimeError, match="await judge_reports"):
            judge_reports_sync(ITEMS, OUTPUTS, client)
        return run

    assert asyncio.run(main()).info()["judged"] == 2
    with pytest.raises(ValueError, match="outputs has 1 entries but there are 3 items"):
        judge_reports_sync(ITEMS, OUTPUTS[:1], client)
    with pytest.raises(ValueError, match=r"items\[0\].*unknown kind 'essay'"):
        judge_reports_sync([{"kind": "essay"}], ["x"], client)


# --------------------------------------------------------------------------------------
# Agreement
# --------------------------------------------------------------------------------------


def test_correlations_hand_worked():
    assert pearson([1, 2, 3, 4, 5], [2, 4, 6, 8, 10]) == pytest.approx(1.0)
    assert pearson([1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)
    assert pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert list(rankdata([10, 20, 20, 30])) == [1.0, 2.5, 2.5, 4.0]
    assert list(rankdata([3, 1, 3, 3])) == [3.0, 1.0, 3.0, 3.0]
    # Monotone but not linear: Spearman 1, Pearson below 1.
    assert spearman([1, 2, 3, 4], [1, 4, 9, 100]) == pytest.approx(1.0)
    assert pearson([1, 2, 3, 4], [1, 4, 9, 100]) < 0.9
    # Ties: ranks [1, 2.5, 2.5, 4] vs [1, 2, 3, 4] -> r = 4.5 / sqrt(4.5 * 5)
    assert spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(4.5 / math.sqrt(4.5 * 5))


def test_qwk_hand_worked():
    assert quadratic_weighted_kappa([1, 2, 3, 4, 5], [1, 2, 3, 4, 5]) == pytest.approx(1.0)
    assert quadratic_weighted_kappa([1, 5], [5, 1]) == pytest.approx(-1.0)
    # O: (1,1), (2,3); sum wO = 1/16; E = 0.5 at (1,1), (1,3), (2,1), (2,3); sum wE = 3/16.
    assert quadratic_weighted_kappa([1, 2], [1, 3]) == pytest.approx(2 / 3)


def test_constant_vectors_give_nan_with_note():
    assert math.isnan(pearson([3, 3, 3], [1, 2, 3]))
    assert math.isnan(spearman([1, 2, 3], [4, 4, 4]))
    assert math.isnan(quadratic_weighted_kappa([4, 4], [4, 4]))
    assert quadratic_weighted_kappa([4, 4], [3, 5]) == pytest.approx(0.0)  # one rater constant: defined
    with pytest.raises(ValueError, match="length mismatch"):
        pearson([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="outside 1-5"):
        quadratic_weighted_kappa([0, 1], [1, 1])


def test_agreement_per_dimension():
    human = {f"r{i}": {d: s for d in DIMENSIONS} for i, s in enumerate([1, 2, 3, 4, 5])}
    judge = {f"r{i}": {d: s for d in DIMENSIONS} for i, s in enumerate([1, 3, 2, 4, 5])}
    judge["r0"]["coverage"] = 4
    for scores in judge.values():  # the judge gives relevance 4 to everything: constant
        scores["relevance"] = 4
    human["extra"] = {d: 3 for d in DIMENSIONS}  # not judged: ignored
    res = agreement(human, judge)
    assert res["items"] == 5
    diag = res["dimensions"]["diagnosis"]
    assert diag["n"] == 5 and diag["notes"] == []
    assert diag["pearson"] == pytest.approx(0.9) and diag["spearman"] == pytest.approx(0.9)
    # O off-diagonal (2,3) and (3,2): sum wO = 2/16; uniform marginals, E = 1/5 per cell and
    # sum_ij (i-j)^2 = 100 over the 5x5 grid: sum wE = 100/16/5 = 20/16.  kappa = 1 - 2/20.
    assert diag["qwk"] == pytest.approx(0.9)
    rel = res["dimensions"]["relevance"]
    assert math.isnan(rel["pearson"]) and any("second vector is constant" in n for n in rel["notes"])
    assert res["pearson_range"][1] == pytest.approx(0.9)
    assert res["paper_pearson_range"] == [0.382, 0.949]


def test_agreement_cross_checks_scipy():
    stats = pytest.importorskip("scipy.stats")
    x = [1, 2, 2, 3, 5, 4, 4, 1, 3, 5, 2]
    y = [2, 2, 3, 3, 4, 4, 5, 1, 2, 5, 3]
    assert pearson(x, y) == pytest.approx(stats.pearsonr(x, y)[0])
    assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y)[0])


def test_agreement_command_line(tmp_path, capsys):
    rows_h = [{"id": f"r{i}", "scores": {d: s for d in DIMENSIONS}} for i, s in enumerate([1, 2, 3, 4, 5])]
    rows_j = [{"id": f"r{i}", "scores": {d: s for d in DIMENSIONS}} for i, s in enumerate([1, 3, 2, 4, 5])]
    (tmp_path / "h.jsonl").write_text("\n".join(json.dumps(r) for r in rows_h))
    (tmp_path / "j.jsonl").write_text("\n".join(json.dumps(r) for r in rows_j))
    assert main([str(tmp_path / "h.jsonl"), str(tmp_path / "j.jsonl")]) == 0
    out = capsys.readouterr().out
    assert "diagnosis" in out and "0.900" in out and "paper: 0.382-0.949" in out
    (tmp_path / "bad.jsonl").write_text('{"id": 1}')
    with pytest.raises(ValueError, match=r"bad.jsonl:1: expected a JSON object with 'id' and 'scores'"):
        main([str(tmp_path / "bad.jsonl"), str(tmp_path / "j.jsonl")])
