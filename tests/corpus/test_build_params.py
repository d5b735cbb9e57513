"""`spinemed build --gen-kwargs` against a reasoning-model endpoint: every LLM stage sends what the
model accepts, and the manifest records the parameters as sent."""

from __future__ import annotations

import json
import threading

from tools.simserver import SimServer

from spinemed.cli import main as cli_main
from spinemed.corpus.offline_rules import RulesBackend
from spinemed.hub import load_manifest


def test_build_against_a_reasoning_endpoint_sends_accepted_params_and_records_them(tmp_path, capsys):
    rules, lock, bodies = RulesBackend(), threading.Lock(), []

    def respond(body):
        with lock:
            bodies.append(body)
        return rules.respond(body["messages"])

    out = tmp_path / "corpus"
    with SimServer(latency_s=0, responder=respond, reasoning=True) as server:
        code = cli_main(["build", "--out", str(out), "--backend", "openai", "--model", "gpt-5-mini",
                         "--base-url", server.base_url, "--trusted-endpoint", "--languages", "source",
                         "--limit", "6", "--gen-kwargs", "reasoning_effort=low", "--json"])
        assert code == 0, capsys.readouterr().err[-2000:]
    assert bodies and server.param_rejections == 0
    assert all(b["reasoning_effort"] == "low" and "temperature" not in b and "max_tokens" not in b
               and b["max_completion_tokens"] == 2048 for b in bodies)
    sent = load_manifest(out)["build"]["generation"]["request_params"]
    assert sent == {"openai:gpt-5-mini": {"max_completion_tokens": 2048, "response_format": {"type": "json_object"},
                                          "reasoning_effort": "low"}}
    summary = json.loads(capsys.readouterr().out)
    assert summary["accounting"]["balanced"]
