"""A failed model request is no answer: the scorer never floor-scores its report (issue 13, part 3)."""

import json

import pytest
from test_scoring import ITEMS, JUDGE, PREDICTIONS

from spinemed.scoring import FLOOR_SCORE, score_predictions


def test_failed_report_request_is_request_failed_not_floor_scored():
    preds = [*PREDICTIONS[:9], None]  # r2's request failed: no output
    errors = [None] * 9 + ["HTTP 404 from http://x/v1/chat/completions"]
    judge = [*JUDGE[:9], None]
    floored = score_predictions(ITEMS, preds, judge)
    assert floored["report"]["floor_scored"] == 1  # the old reading: a None output is floor-scored
    res = score_predictions(ITEMS, preds, judge, request_errors=errors, return_items=True)
    rep = res["report"]
    assert rep["floor_scored"] == 0 and rep["request_failed"] == 1 and rep["scored"] == 1 and not rep["complete"]
    assert rep["request_failures"] == [{"id": "r2", "error": errors[-1]}] and rep["missing_outputs"] == 1
    assert res["scores"]["report"] is None and res["scores"]["total"] is None
    assert res["items"][-1]["status"] == "request_failed" and res["items"][-1]["score"] is None
    assert any("1 model request(s) failed" in w for w in res["warnings"])
    mean = score_predictions(ITEMS, preds, judge, request_errors={"r2": "timeout"}, partial_reports="mean")
    assert mean["scores"]["report"] == pytest.approx(68.0)  # r1 only; the floor would give (68 + 20) / 2
    assert FLOOR_SCORE == 20.0


def test_request_errors_on_mcq_items_stay_missing_and_runs_without_failures_keep_their_bytes():
    res = score_predictions(ITEMS, PREDICTIONS, JUDGE, request_errors={"i2": "HTTP 503"})
    plain = score_predictions(ITEMS, PREDICTIONS, JUDGE)
    assert res["answers"]["image_mcq"]["missing"] == 1 and res["scores"] == plain["scores"]
    none_failed = score_predictions(ITEMS, PREDICTIONS, JUDGE, request_errors=[None] * len(ITEMS), bootstrap=50)
    assert json.dumps(none_failed, sort_keys=True) == json.dumps(score_predictions(ITEMS, PREDICTIONS, JUDGE, bootstrap=50),
                                                                 sort_keys=True)
