"""Honest failure of `spinemed eval` (issue 13, part 3): a base URL that is not an OpenAI-compatible
API stops the run before any work (exit 2); a run with errored items exits 3 unless
--max-error-rate allows it, is marked incomplete, and never floor-scores an item whose request failed."""

from __future__ import annotations

import json

import pytest
from test_eval_openai import N_ITEMS, Model, _cfg
from test_eval_support import sample_bench
from tools.simserver import SimHTTPError, SimServer

from spinemed.cli import main as cli_main
from spinemed.evaluation.models import EvalError
from spinemed.evaluation.runner import run_eval
from spinemed.scoring import DIMENSIONS


def _eval(out, base_url, *extra) -> int:
    return cli_main(["eval", "--bench", str(sample_bench()), "--model", f"openai:sim@{base_url}", "--out", str(out),
                     "--allow-unregistered", "--no-plots", "--bootstrap", "0", "--retries", "0", *extra])


def _results(out) -> dict:
    return json.loads((out / "results.json").read_text(encoding="utf-8"))


def _nothing_written(out) -> bool:
    return not (out / "predictions.jsonl").exists() and not (out / "results.json").exists()


def test_base_url_answering_404_exits_2_before_any_work(tmp_path, capsys):
    with SimServer(responder=Model()) as server:
        code = _eval(tmp_path, server.base_url.rsplit("/v1", 1)[0] + "/api/v2")  # a wrong path on a live server
        assert server.requests == 0
    assert code == 2 and _nothing_written(tmp_path)
    err = capsys.readouterr().err
    assert "is not an OpenAI-compatible API" in err and "HTTP 404" in err and "/v1" in err


def test_html_page_at_the_base_url_exits_2(tmp_path, capsys):
    page = "<!DOCTYPE html><html><head><title>Sign in</title></head><body>Welcome</body></html>"
    with SimServer(html_page=page) as server:
        code = _eval(tmp_path, server.base_url)
        assert server.requests == 0  # the probe went to /models only: no chat request
    assert code == 2 and _nothing_written(tmp_path)
    err = capsys.readouterr().err
    assert "is not an OpenAI-compatible API" in err and "an HTML page" in err and "<!DOCTYPE html>" in err


@pytest.mark.parametrize("body", [{"status": "ok", "version": "2.1"}, [{"id": "sim"}], {"data": "sim"}])
def test_models_json_of_the_wrong_shape_is_an_error_before_any_work(tmp_path, body):
    with SimServer(responder=Model(), models_body=body) as server:
        with pytest.raises(EvalError, match="not an OpenAI-compatible API.*not a model list"):
            run_eval(_cfg(tmp_path, server))
        assert server.requests == 0
    assert _nothing_written(tmp_path)


def test_gateway_without_models_route_passes_through_a_tiny_chat_probe(tmp_path):
    model = Model()
    with SimServer(latency_s=0.01, responder=lambda body: "pong" if _text(body) == "ping" else model(body),
                   models_route=False) as server:
        run = run_eval(_cfg(tmp_path, server))
        assert server.requests == N_ITEMS + 1  # the probe, then every item
    assert run.results["errors"]["count"] == 0 and run.results["benchmark"]["complete"] is True


def _text(body) -> str:
    content = body["messages"][-1]["content"]
    return content if isinstance(content, str) else ""


def test_endpoint_rejecting_every_request_exits_3_and_is_marked_incomplete(tmp_path, capsys):
    def reject(body):
        raise SimHTTPError(400, "this deployment does not accept chat requests")

    with SimServer(latency_s=0.0, responder=reject) as server:
        code = _eval(tmp_path, server.base_url)
    assert code == 3
    r = _results(tmp_path)
    assert r["errors"]["count"] == N_ITEMS and r["benchmark"]["complete"] is False
    assert r["benchmark"]["items_errored"] == N_ITEMS and r["benchmark"]["items_answered"] == 0
    # Nothing was answered, so nothing is scored as if it had been: no floor, no total.
    rep = r["report"]
    assert rep["floor_scored"] == 0 and rep["request_failed"] == 3 and rep["scored"] == 0
    assert r["scores"]["report"] is None and r["scores"]["total"] is None
    assert all("HTTP 400" in f["error"] for f in rep["request_failures"])
    err = capsys.readouterr().err
    assert f"{N_ITEMS} of {N_ITEMS} item(s) errored" in err and "incomplete" in err


def test_max_error_rate_decides_the_exit_code(tmp_path):
    model = Model()
    model.fail = set(model.ids("text_mcq")[:2])  # 2 of 15 items: 13.3 %
    with SimServer(latency_s=0.0, responder=model) as server:
        assert _eval(tmp_path / "strict", server.base_url) == 3
        assert _eval(tmp_path / "tight", server.base_url, "--max-error-rate", "0.1") == 3
        assert _eval(tmp_path / "loose", server.base_url, "--max-error-rate", "0.2") == 0
    for name in ("strict", "tight", "loose"):  # allowed or not, the results say they are incomplete
        b = _results(tmp_path / name)["benchmark"]
        assert b["complete"] is False and b["items_errored"] == 2 and b["items_answered"] == N_ITEMS - 2


@pytest.mark.parametrize("value", ["5%", "1.5", "-0.1"])
def test_max_error_rate_rejects_values_outside_0_1(capsys, value):
    with pytest.raises(SystemExit) as exc:
        cli_main(["eval", "--max-error-rate", value])
    assert exc.value.code == 2 and "fraction between 0 and 1" in capsys.readouterr().err


def test_report_whose_request_failed_is_never_floor_scored(tmp_path):
    model = Model()
    failed = model.ids("report")[0]
    model.fail = {failed}
    with SimServer(latency_s=0.0, responder=model) as server:
        no_judge = run_eval(_cfg(tmp_path / "a", server, retries=0)).results
        judged = run_eval(_cfg(tmp_path / "b", server, retries=0, judge_model="sim", judge_urls=[server.base_url],
                               partial_reports="mean")).results
    for r in (no_judge, judged):
        rep = r["report"]
        assert rep["floor_scored"] == 0 and rep["request_failed"] == 1
        assert rep["request_failures"] == [{"id": failed, "error": r["errors"]["items"][0]["error"]}]
        assert r["benchmark"]["complete"] is False
    assert no_judge["scores"]["report"] is None and no_judge["scores"]["total"] is None
    # With a judge (every dimension 4: P3 80) and partial_reports=mean, P3 is the mean of the two answered
    # reports; a floor-scored failure would have pulled it to (80 + 80 + 20) / 3.
    assert judged["report"]["judged"] == 2 and judged["scores"]["report"] == pytest.approx(80.0)
    assert set(Model().judge_scores) == set(DIMENSIONS)


@pytest.mark.parametrize("status, passes", [(400, True), (503, True), (404, False)])
def test_chat_probe_tells_an_api_refusal_from_a_missing_api(status, passes):
    from spinemed.models.loader import check_endpoint
    from spinemed.models.spec import ModelError

    def refuse(body):
        raise SimHTTPError(status, "max_tokens too small" if status == 400 else "unavailable")

    with SimServer(latency_s=0.0, responder=refuse, models_route=False) as server:
        if passes:  # an OpenAI-style error answer (or a busy server) is an API: the run goes on
            check_endpoint(server.base_url, "sim", None, timeout_s=5)
        else:
            with pytest.raises(ModelError, match="not an OpenAI-compatible API.*HTTP 404"):
                check_endpoint(server.base_url, "sim", None, timeout_s=5)


def test_chat_probe_names_a_model_the_gateway_does_not_serve():
    from spinemed.models.loader import check_endpoint
    from spinemed.models.spec import ModelError

    def unknown(body):
        raise SimHTTPError(404, f"The model `{body['model']}` does not exist.")

    with SimServer(latency_s=0.0, responder=unknown, models_route=False) as server:
        with pytest.raises(ModelError, match="does not serve model 'gpt-x'"):
            check_endpoint(server.base_url, "gpt-x", None, timeout_s=5)
