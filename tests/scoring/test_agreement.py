"""Human-vs-judge agreement: Pearson, Spearman, quadratic-weighted kappa, and the command line."""

import json
import math
import re

import pytest

from spinemed.evaluation.agreement import (
    InputError,
    agreement,
    main,
    pearson,
    quadratic_weighted_kappa,
    rankdata,
    read_scores,
    spearman,
)
from spinemed.judge import JudgeResult, JudgeRun
from spinemed.scoring import DIMENSIONS


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


def _write_jsonl(path, rows):
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return str(path)


HUMAN = [{"id": f"r{i}", "scores": {d: s for d in DIMENSIONS}} for i, s in enumerate([1, 2, 3, 4, 5])]
JUDGE = [{"id": f"r{i}", "scores": {d: s for d in DIMENSIONS}} for i, s in enumerate([1, 3, 2, 4, 5])]


def test_agreement_command_line(tmp_path, capsys):
    h = _write_jsonl(tmp_path / "h.jsonl", HUMAN)
    j = _write_jsonl(tmp_path / "j.jsonl", JUDGE)
    assert main([h, j]) == 0
    out = capsys.readouterr().out
    assert "diagnosis" in out and "0.900" in out and "paper: 0.382-0.949" in out and "items compared: 5" in out
    assert "only in" not in out


def test_spinemed_eval_agreement_is_the_command(tmp_path, capsys):
    from spinemed.cli import main as cli_main

    h = _write_jsonl(tmp_path / "h.jsonl", HUMAN)
    j = _write_jsonl(tmp_path / "j.jsonl", JUDGE)
    assert cli_main(["eval", "agreement", h, j]) == 0
    assert "items compared: 5" in capsys.readouterr().out
    assert cli_main(["eval", "agreement", h, str(tmp_path / "nowhere.jsonl")]) == 2
    assert "no such file" in capsys.readouterr().err
    # `spinemed eval` itself still needs --bench, --model and --out (exit 2, as argparse would).
    with pytest.raises(SystemExit) as info:
        cli_main(["eval", "--model", "baseline:random"])
    assert info.value.code == 2 and "required: --bench, --out" in capsys.readouterr().err


def test_command_line_lists_ids_found_in_one_file_only(tmp_path, capsys):
    h = _write_jsonl(tmp_path / "h.jsonl", HUMAN + [{"id": "extra-h", "scores": {"diagnosis": 3}}])
    j = _write_jsonl(tmp_path / "j.jsonl", JUDGE[1:] + [{"id": "extra-j", "scores": {"diagnosis": 2}}])
    assert main([h, j]) == 0
    out = capsys.readouterr().out
    assert "items compared: 4" in out
    assert f"only in {h}: 2 id(s): r0, extra-h" in out and f"only in {j}: 1 id(s): extra-j" in out
    assert main([h, j, "--json"]) == 0
    res = json.loads(capsys.readouterr().out)  # valid JSON: undefined statistics are null, not NaN
    assert res["only_human"] == ["r0", "extra-h"] and res["only_judge"] == ["extra-j"] and res["items"] == 4
    assert res["dimensions"]["diagnosis"]["n"] == 4


def test_command_line_reads_a_judge_run_json(tmp_path, capsys):
    results = [JudgeResult(i, r["id"], "ok", dict(r["scores"]), attempts=1) for i, r in enumerate(JUDGE[:4])]
    results.append(JudgeResult(4, "r4", "invalid", attempts=3, error="no JSON object found in the reply"))
    run = JudgeRun(results, n_items=5, judge_model="m", backend="fake", prompt_version="v1", prompt_hash="h",
                   item_ids=[r["id"] for r in JUDGE])
    (tmp_path / "judge.json").write_text(json.dumps(run.to_json()), encoding="utf-8")
    h = _write_jsonl(tmp_path / "h.jsonl", HUMAN)
    assert main([h, str(tmp_path / "judge.json")]) == 0
    out = capsys.readouterr().out
    assert "items compared: 4" in out and "judgement failed (not compared): 1 id(s): r4" in out and "only in" not in out
    scores, failed = read_scores(tmp_path / "judge.json")
    assert set(scores) == {"r0", "r1", "r2", "r3"} and failed == ["r4"]


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"id": "r0", "scores": {"diagnosis": 3}}\n{"id": "r1", "scores": ', r"bad.jsonl:2: not valid JSON"),
        ('{"id": 1}', r"bad.jsonl:1: expected a JSON object with 'id' and 'scores'"),
        ('[1, 2]', r"bad.jsonl:1: expected a JSON object with 'id' and 'scores'"),
        ('{"id": "a", "scores": {"diagnosis": 3}}\n\n{"id": "a", "scores": {"diagnosis": 4}}', r"bad.jsonl:3: id 'a' appears more than once"),
        ('{"id": "a", "scores": {"clarity": 3}}', r"bad.jsonl:1: unknown dimension\(s\) clarity"),
        ('{"id": "a", "scores": {"diagnosis": "high"}}', r'bad.jsonl:1: diagnosis = "high" is not a number'),
        ('{"id": "a", "scores": [3, 4]}', r"bad.jsonl:1: 'scores' must be an object"),
        ("", r"bad.jsonl: no scores \(the file is empty\)"),
        ('{"results": [], "judge_model": "m"}', r"bad.jsonl: not a JudgeRun JSON \(missing prompt_version, prompt_hash\)"),
    ],
)
def test_command_line_bad_input_is_an_error_not_a_traceback(tmp_path, capsys, content, message):
    (tmp_path / "bad.jsonl").write_text(content, encoding="utf-8")
    j = _write_jsonl(tmp_path / "j.jsonl", JUDGE)
    assert main([str(tmp_path / "bad.jsonl"), j]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    assert re.search(message, err), err
    with pytest.raises(InputError):
        read_scores(tmp_path / "bad.jsonl")


def test_command_line_missing_file_and_no_shared_ids(tmp_path, capsys):
    j = _write_jsonl(tmp_path / "j.jsonl", JUDGE)
    assert main([str(tmp_path / "nope.jsonl"), j]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'nope.jsonl'}: no such file\n"
    other = _write_jsonl(tmp_path / "other.jsonl", [{"id": "x1", "scores": {"diagnosis": 3}}])
    assert main([other, j]) == 2
    err = capsys.readouterr().err
    assert f"error: {other} (1 ids) and {j} (5 ids) share no item id" in err and "'x1' vs 'r0'" in err
