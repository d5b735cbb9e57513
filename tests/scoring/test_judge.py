"""Report judge: strict parsing, distinct bounded re-asks, failure accounting, prompts, JudgeRun JSON."""

import asyncio
import hashlib
import json

import pytest

import spinemed.judge.runner as judge_module  # where load_prompts reads DEFAULT_PROMPT_DIR
from spinemed.judge import (
    DEFAULT_PROMPT_DIR,
    JUDGEMENT_SCHEMA,
    JudgeParseError,
    JudgeRun,
    judge_reports,
    judge_reports_sync,
    load_prompts,
    parse_judgement,
)
from spinemed.llm.base import ChatResult, LLMError
from spinemed.llm.cache import RequestCache
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


def test_prompt_v1_hash_covers_both_turns():
    prompts = load_prompts("v1")
    digest = hashlib.sha256()
    for name, text in (("system.md", prompts.system), ("user.md", prompts.user_template)):
        digest.update(name.encode() + b"\0" + text.encode("utf-8") + b"\0")
    assert prompts.version == "v1" and prompts.sha256 == digest.hexdigest()
    # Recorded in judge runs and results made before the two files became v1/judge.md: pinned.
    assert prompts.sha256 == "8f9affafce860432ac2b0ec159d2d3a62f35f1f89aeacefd6985335dd6e67479"
    assert prompts.system.startswith("You are a senior spine surgeon") and prompts.user_template.startswith("## Case")
    for d in DIMENSIONS:
        assert d in prompts.system


def test_prompt_folder_missing_names_it_and_says_how_to_pass_prompt_dir(tmp_path, monkeypatch):
    # An installed kit without the checkout: the default folder does not exist.
    monkeypatch.setattr(judge_module, "DEFAULT_PROMPT_DIR", tmp_path / "site-packages" / "builders" / "spinebench" / "judge_prompts")
    monkeypatch.delenv("SPINEMED_JUDGE_PROMPTS", raising=False)
    with pytest.raises(FileNotFoundError) as err:
        load_prompts("v1")
    msg = str(err.value)
    assert str(tmp_path / "site-packages" / "builders" / "spinebench" / "judge_prompts") in msg and "does not exist" in msg
    assert "pass prompt_dir" in msg and "builders/spinebench/judge_prompts" in msg and "SPINEMED_JUDGE_PROMPTS" in msg
    with pytest.raises(FileNotFoundError, match=r"nowhere \(prompt_dir\) does not exist"):
        load_prompts("v1", tmp_path / "nowhere")
    # The environment variable points an installed kit at the prompts.
    monkeypatch.setenv("SPINEMED_JUDGE_PROMPTS", str(DEFAULT_PROMPT_DIR))
    assert load_prompts("v1").sha256 == load_prompts("v1", DEFAULT_PROMPT_DIR).sha256


def test_prompt_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"v9.*prompt versions in .*\['v1'\]"):
        load_prompts("v9")
    (tmp_path / "v2").mkdir()
    (tmp_path / "v2" / "judge.md").write_text("---\nid: judge\nversion: v2\n---\n## system\nGrade imaging_report and diagnosis.\n"
                                             "## user\n{{ report }}")
    with pytest.raises(ValueError, match="does not name dimension.*patient_guidance"):
        load_prompts("v2", tmp_path)
    (tmp_path / "v3").mkdir()
    (tmp_path / "v3" / "judge.md").write_text((DEFAULT_PROMPT_DIR / "v1" / "judge.md").read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(ValueError, match=r"judge.md:1: front matter says version 'v1' but the file is in folder 'v3'"):
        load_prompts("v3", tmp_path)


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
    assert run.errors() == [None, "invalid: no JSON object found in the reply", "invalid: no JSON object found in the reply"]
    assert run.info()["failed"] == 2 and run.info()["failures"][0] == {"id": "r1", "status": "invalid", "error": "no JSON object found in the reply"}

    results = score_predictions(ITEMS, OUTPUTS, run)
    assert results["report"]["judged"] == 0 and results["report"]["not_judged"] == 2
    assert results["report"]["judge_failed"] == 2 and results["report"]["no_judge_scores"] == 0
    assert results["scores"]["report"] is None and results["scores"]["total"] is None
    assert results["judge"]["failed"] == 2


class RepeatingJudge(FakeJudge):
    """Always the same unusable reply, like a deterministic judge at temperature 0."""

    def __init__(self):
        super().__init__(lambda req, n: "All dimensions: 4.")


def test_every_reask_is_a_distinct_request_even_with_a_cache(tmp_path):
    backend = RepeatingJudge()
    client = LLMClient(backend, cache=RequestCache(tmp_path / "cache.sqlite"))
    run = judge_reports_sync(ITEMS[:2], OUTPUTS[:2], client, max_retries=3)
    # 1 + 3 re-asks, each really sent: an identical re-ask would have been a cache hit.
    assert len(backend.requests) == 4 and client.stats.cache_hits == 0
    assert len({r.cache_key() for r in backend.requests}) == 4
    reasks = [r.messages[-1]["content"] for r in backend.requests[1:]]
    assert [x.split(".")[0] for x in reasks] == ["Attempt 2 of 4", "Attempt 3 of 4", "Attempt 4 of 4"]
    assert all("no JSON object found in the reply" in x for x in reasks)
    (res,) = run.results
    assert res.status == "invalid" and res.attempts == 4
    # Rerun with the same cache: every attempt is answered from the cache, nothing is resent.
    again = judge_reports_sync(ITEMS[:2], OUTPUTS[:2], LLMClient(backend, cache=RequestCache(tmp_path / "cache.sqlite")), max_retries=3)
    assert len(backend.requests) == 4 and again.results[0].attempts == 4


def test_judge_partial_failure_and_endpoint_error():
    def script(req, n):
        if "cervical" in req.messages[1]["content"]:
            return LLMError("HTTP 400: context too long")
        return reply({d: 5 for d in DIMENSIONS})

    run = judge_reports_sync(ITEMS, OUTPUTS, LLMClient(FakeJudge(script), retries=0))
    assert [r.status for r in run.results] == ["ok", "error"]
    assert "context too long" in run.results[1].error
    # The failed judgement is not dropped: no P3, no total, counted and named.
    results = score_predictions(ITEMS, OUTPUTS, run)
    assert results["report"]["judged"] == 1 and results["report"]["not_judged"] == 1 and results["report"]["judge_failed"] == 1
    assert results["report"]["judge_failures"][0]["id"] == "r2" and "context too long" in results["report"]["judge_failures"][0]["error"]
    assert results["scores"]["report"] is None and results["scores"]["total"] is None
    assert results["judge"]["prompt_version"] == "v1"
    assert any("1 of 2 report items not judged (1 judgement(s) failed)" in w for w in results["warnings"])
    # Only an explicit opt-in averages the judged rest.
    opted = score_predictions(ITEMS, OUTPUTS, run, partial_reports="mean")
    assert opted["scores"]["report"] == pytest.approx(100.0) and opted["config"]["partial_reports"] == "mean"


def test_judge_missing_or_blank_output_sends_nothing_and_is_floor_scored():
    backend = FakeJudge(lambda req, n: reply())
    outputs = ["B", None, OUTPUTS[2]]
    run = judge_reports_sync(ITEMS, outputs, LLMClient(backend))
    assert [r.status for r in run.results] == ["missing_output", "ok"]
    assert len(backend.requests) == 1
    assert run.errors() == [None, None, None]  # nothing to judge is no judge failure
    blank = judge_reports_sync(ITEMS, ["B", " \n ", OUTPUTS[2]], LLMClient(backend))
    assert blank.results[0].status == "missing_output" and blank.results[0].error == "model output is empty"
    assert len(backend.requests) == 2
    results = score_predictions(ITEMS, outputs, run)
    assert results["report"]["floor_scored"] == 1 and results["report"]["complete"]
    assert results["scores"]["report"] == pytest.approx((20 + 80) / 2)  # floor + all-4 judgement
    assert results["scores"]["total"] == pytest.approx((100 + 2 * 50) / 3)


def test_judge_run_json_round_trip(tmp_path):
    def script(req, n):
        return "no" if "cervical" in req.messages[1]["content"] else reply({"diagnosis": 2})

    run = judge_reports_sync(ITEMS, OUTPUTS, LLMClient(FakeJudge(script)), max_retries=0)
    path = tmp_path / "judge.json"
    path.write_text(json.dumps(run.to_json()))
    back = JudgeRun.from_json(json.loads(path.read_text()))
    assert back.scores() == run.scores() and back.errors() == run.errors() and back.info() == run.info()
    assert back.item_ids == ["m1", "r1", "r2"] and back.n_items == 3
    assert score_predictions(ITEMS, OUTPUTS, json.loads(path.read_text()))["report"] == score_predictions(ITEMS, OUTPUTS, run)["report"]
    with pytest.raises(ValueError, match="judge.json: not a JudgeRun JSON \\(missing prompt_hash\\)"):
        JudgeRun.from_json({"results": [], "judge_model": "m", "prompt_version": "v1"}, "judge.json")
    with pytest.raises(ValueError, match=r"results\[0\] needs 'index', 'id' and 'status'"):
        JudgeRun.from_json({"results": [{"id": "x"}], "judge_model": "m", "prompt_version": "v1", "prompt_hash": "h"})


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
