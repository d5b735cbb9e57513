"""The LLM answer extractor: strict parsing, and `spinemed eval` sending what the rules cannot
parse to a (simulated, reasoning-model) judge endpoint, recorded per item and counted."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
from test_eval_openai import Model
from test_eval_support import sample_bench
from tools.simserver import SimServer

from spinemed.cli import main as cli_main
from spinemed.evaluation.predictions import read_predictions
from spinemed.judge.extract import ExtractParseError, extract_answers, load_extract_prompts, parse_extraction
from spinemed.llm.client import LLMClient
from spinemed.llm.openai_compat import OpenAICompatBackend
from spinemed.llm.params import ParamTable

# What a model writes that the rules must not read as an answer: the ordinal needs a reader.
UNPARSEABLE = "Weighing the imaging against the history, I am going with the {nth} one on the list."
ORDINALS = "first second third fourth fifth".split()


@pytest.mark.parametrize("reply,expected", [
    ('{"answer": "B"}', "B"), ('{"answer": null}', None), ('```json\n{"answer": "c"}\n```', "C"),
    ('{"answer": "A, C"}', "AC"), ('<think>hmm {"answer": "A"}</think>{"answer": "D"}', "D"),
    ('Sure! {"answer": "E"}', "E"),
])
def test_strict_replies_parse(reply, expected):
    assert parse_extraction(reply, "ABCDE") == expected


@pytest.mark.parametrize("reply,why", [
    ("B", "one JSON object"), ('{"answer": "B"} {"answer": "C"}', "found 2"), ('{"letter": "B"}', "key 'answer'"),
    ('{"answer": "B", "why": "x"}', "key 'answer'"), ('{"answer": "F"}', "not options"),
    ('{"answer": "lumbar stenosis"}', "option letters or null"), ('{"answer": 2}', "option letters or null"),
])
def test_other_replies_are_refused_with_the_reason(reply, why):
    with pytest.raises(ExtractParseError, match=why):
        parse_extraction(reply, "ABCDE")


def test_prompt_is_a_versioned_file_with_a_hash():
    p = load_extract_prompts("v1")
    assert p.version == "v1" and len(p.sha256) == 64 and '{"answer": null}' in p.system
    messages = p.messages("Which level?", [("A", "L4-L5"), ("B", "L5-S1")], "the second")
    assert "A. L4-L5\nB. L5-S1" in messages[1]["content"] and "the second" in messages[1]["content"]
    with pytest.raises(FileNotFoundError, match="v9"):
        load_extract_prompts("v9")


class Extractor:
    """The judge endpoint as an extractor: reads the ordinal back; garbage once for one item."""

    def __init__(self, inner):
        self.inner, self.lock, self.extract_requests, self.garbage_for = inner, threading.Lock(), [], None

    def __call__(self, body):
        system = body["messages"][0]["content"] if body["messages"][0]["role"] == "system" else ""
        if "You read the answer a model gave" not in system:
            return self.inner(body)
        with self.lock:
            self.extract_requests.append(body)
        user = body["messages"][1]["content"]
        if self.garbage_for and self.garbage_for in user and len(body["messages"]) == 2:
            return "It is the third option."  # not JSON: re-asked once
        for n, word in enumerate(ORDINALS):
            if f"the {word} one" in user:
                return json.dumps({"answer": "ABCDE"[n]})
        return json.dumps({"answer": None})


class Wild(Model):
    """Answers some MCQs in words the rules cannot read (right for text MCQ, wrong for image)."""

    def __init__(self):
        super().__init__()
        mcq = self.ids("text_mcq")[:3] + self.ids("image_mcq")[:1]
        self.wild = set(mcq)
        self.hedge = self.ids("text_mcq")[3]  # "A or B": the extractor must say null

    def __call__(self, body):
        if body["messages"][0]["role"] == "system":
            return super().__call__(body)
        item = self.item_for(body)
        if item["kind"] == "report":
            return super().__call__(body)
        letters = [o["label"] for o in item["options"]]
        if item["id"] == self.hedge:
            return "It is either of the first two, I cannot decide."
        if item["id"] in self.wild:
            answer = item["answer"] if item["kind"] == "text_mcq" else next(x for x in letters if x not in item["answer"])
            return UNPARSEABLE.format(nth=ORDINALS[letters.index(answer)])
        return super().__call__(body)


def test_eval_sends_unparsed_outputs_to_a_reasoning_judge_and_counts_them(tmp_path, capsys):
    model = Wild()
    extractor = Extractor(model)
    extractor.garbage_for = UNPARSEABLE.split(",")[0]  # every wild item gets one re-ask
    served = {"object": "list", "data": [{"id": "sim"}, {"id": "gpt-5-mini"}]}
    with SimServer(latency_s=0, responder=extractor, reasoning=True, models_body=served) as server:
        code = cli_main(["eval", "--bench", str(sample_bench()), "--model", f"openai:gpt-5-mini@{server.base_url}",
                         "--out", str(tmp_path / "run"), "--allow-unregistered", "--no-plots", "--bootstrap", "0",
                         "--judge-model", "gpt-5-mini", "--judge-url", server.base_url])
    captured = capsys.readouterr()
    out = captured.out
    assert code == 0, captured.err[-3000:]
    assert server.param_rejections == 0  # the judge is a reasoning model too: no temperature, no max_tokens
    assert all("temperature" not in b and "max_tokens" not in b for b in extractor.extract_requests)
    preds = read_predictions(tmp_path / "run" / "predictions.jsonl")
    for item_id in model.wild:
        assert preds[item_id]["extraction"] == "llm" and preds[item_id]["status"] == "answered", preds[item_id]
    assert preds[model.hedge]["extraction"] == "none" and preds[model.hedge]["status"] == "unparsed"
    assert {p["extraction"] for i, p in preds.items() if p["kind"] != "report" and i not in model.wild | {model.hedge}} == {"rules"}
    assert all(p["extraction"] is None for p in preds.values() if p["kind"] == "report")

    results = json.loads((tmp_path / "run" / "results.json").read_text())
    ex = results["extraction"]
    n_mcq = sum(p["kind"] != "report" for p in preds.values())
    assert (ex["rules"], ex["llm"], ex["none"], ex["mcq_items"]) == (n_mcq - 5, 4, 1, n_mcq)
    llm = ex["llm_extractor"]
    assert (llm["sent"], llm["answered"], llm["none"], llm["invalid"], llm["error"]) == (5, 4, 1, 0, 0)
    assert llm["model"] == "gpt-5-mini" and llm["prompt_version"] == "v1" and len(llm["prompt_hash"]) == 64
    assert llm["request_params"] == {}  # no temperature, no token limit: nothing but the model's defaults
    # the wild text MCQs were right, so P1 stays 100 except the hedge; the wild image MCQ is wrong
    assert results["answers"]["text_mcq"]["llm_extracted"] == 3 and results["answers"]["image_mcq"]["llm_extracted"] == 1
    n_text = results["counts"]["text_mcq"]
    assert results["scores"]["text_mcq"] == pytest.approx(100 * (n_text - 1) / n_text)
    assert "by LLM 4" in out and "extraction.json" in out
    assert json.loads((tmp_path / "run" / "extraction.json").read_text())["results"][0]["attempts"] == 2


def test_without_a_judge_or_with_no_llm_extract_nothing_is_sent(tmp_path):
    model = Wild()
    extractor = Extractor(model)
    with SimServer(latency_s=0, responder=extractor) as server:
        args = ["eval", "--bench", str(sample_bench()), "--model", f"openai:sim@{server.base_url}",
                "--allow-unregistered", "--no-plots", "--bootstrap", "0"]
        assert cli_main([*args, "--out", str(tmp_path / "plain")]) == 0
        assert cli_main([*args, "--out", str(tmp_path / "off"), "--judge-model", "sim", "--judge-url", server.base_url,
                         "--no-llm-extract"]) == 0
    assert not extractor.extract_requests
    for run in ("plain", "off"):
        results = json.loads((tmp_path / run / "results.json").read_text())
        assert results["extraction"]["llm"] == 0 and results["extraction"]["none"] == 5
        assert results["extraction"]["llm_extractor"] is None
        assert "llm_extracted" not in results["answers"]["text_mcq"]


def test_extractor_failures_are_counted_never_answers():
    items = [{"id": "q1", "question": "?", "options": [{"label": "A", "text": "x"}, {"label": "B", "text": "y"}]}]

    def garbage(body):
        return '{"answer": "Z"}'

    with SimServer(latency_s=0, responder=garbage) as server:
        client = LLMClient(OpenAICompatBackend(server.base_url, "judge", learned=ParamTable()), retries=0)
        run = asyncio.run(extract_answers(items, ["the first one"], client, model="judge"))
    assert run.answers() == {} and run.info()["invalid"] == 1 and server.requests == 2
    assert "not options" in run.results[0].error
