"""Leaderboard defences (issue 13, part 5): duplicates, rate limits, impersonating names.

Each test replays a case the adversarial run found: 40 near-identical submissions accepted in 16 s
under a paper row's name, and names that pass for a paper row with an invisible Hangul filler, a
Cyrillic letter, a bidi override or a zero-width joiner.
"""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import pytest
from test_space_fixtures import prediction_lines, run_meta, sample_dirs, write_jsonl

from spinemed.scoring.paper import PAPER_RESULTS
from spinemed.space.app import SpaceState, client_id
from spinemed.space.bench import SpaceBench
from spinemed.space.config import SpaceConfig
from spinemed.space.safety import check_name_free, name_skeleton, validate_model_name
from spinemed.space.store import ResultsStore
from spinemed.space.submissions import RateLimit, RateLimiter, SubmissionRejected

PAPER_NAMES = [row.model for row in PAPER_RESULTS]
CLIENT = "host:203.0.113.7"


@pytest.fixture(scope="module")
def bench():
    return SpaceBench.load(str(sample_dirs()[1]), allow_unregistered=True)


def _state(tmp_path, bench, **config):
    cfg = SpaceConfig(results_dir=tmp_path / "results", cache_dir=tmp_path / "cache", bootstrap=50, **config)
    return SpaceState(cfg, bench=bench, store=ResultsStore(cfg.results_dir))


def _upload(tmp_path, bench, variant: int) -> str:
    """A complete predictions file that differs from the others only in one report's wording."""
    report_id = next(i for i in bench.ids if bench.by_id[i]["kind"] == "report")
    rows = prediction_lines(bench)
    for r in rows:
        if r["id"] == report_id:
            r["output"] += f"\n(run {variant})"
    return str(write_jsonl(tmp_path / f"p{variant}.jsonl", rows))


def _plain(message: str) -> str:
    """The page's Markdown message without its escaping backslashes."""
    return re.sub(r"\\(.)", r"\1", message)


def _stored(tmp_path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((tmp_path / "results" / "submissions").glob("*/results.json"))]


# --------------------------------------------------------------------------------------
# 40 near-identical submissions in a burst
# --------------------------------------------------------------------------------------


def test_forty_near_identical_submissions_under_a_paper_name_are_all_refused(tmp_path, bench):
    state = _state(tmp_path, bench)
    messages = [state.submit(_upload(tmp_path, bench, i), "GPT-4o", None, "closed", "general", client=CLIENT, meta_file=run_meta(tmp_path / "run.meta.json", None))
                for i in range(40)]
    assert all("'GPT-4o' is reserved" in _plain(m) for m in messages), messages[0]
    assert _stored(tmp_path) == []
    assert [e.model for e in state.entries].count("GPT-4o") == 1  # the paper row only


def test_forty_near_identical_submissions_from_one_client_accept_one(tmp_path, bench):
    state = _state(tmp_path, bench)
    messages = [state.submit(_upload(tmp_path, bench, i), "flood/model-7B", None, "open", "general", client=CLIENT, meta_file=run_meta(tmp_path / "run.meta.json", None))
                for i in range(40)]
    accepted = [m for m in messages if m.startswith("### Accepted")]
    assert len(accepted) == 1 and messages[0] is accepted[0]
    assert all("rate limit: this client already has 1 accepted submission" in m for m in messages[1:]), messages[1]
    assert len(_stored(tmp_path)) == 1


def test_the_same_predictions_again_are_refused_naming_the_existing_entry(tmp_path, bench):
    state = _state(tmp_path, bench)
    path = _upload(tmp_path, bench, 0)
    assert state.submit(path, "org/model", None, "open", "general", "v1", client="host:a", meta_file=run_meta(tmp_path / "run.meta.json", None, revision=None)).startswith("### Accepted")
    (sid,) = [r["submission"]["id"] for r in _stored(tmp_path)]
    again = _plain(state.submit(path, "org/model", None, "open", "general", "v1", client="host:b", meta_file=run_meta(tmp_path / "run.meta.json", None, revision=None)))
    assert f"submission {sid}" in again and "model 'org/model', revision 'v1'" in again
    assert "one submission per model name, revision and predictions" in again
    # Under another name the same outputs are a copy of that entry, named too.
    copy = _plain(state.submit(path, "other/model", None, "open", "general", client="host:c", meta_file=run_meta(tmp_path / "run.meta.json", None)))
    assert f"submission {sid}" in copy and "model 'org/model'" in copy
    assert len(_stored(tmp_path)) == 1 and _stored(tmp_path)[0]["model"]["revision"] == "v1"


# --------------------------------------------------------------------------------------
# Rate limits
# --------------------------------------------------------------------------------------


def test_rate_limits_per_name_and_per_client_slide_with_time():
    now = [1000.0]
    limiter = RateLimiter(RateLimit(2, 3600), RateLimit(1, 600), clock=lambda: now[0])
    limiter.check("org/m", "host:a")
    limiter.record("org/m", "host:a")
    with pytest.raises(SubmissionRejected, match=r"this client already has 1 .* try again in 600 s"):
        limiter.check("org/other", "host:a")
    limiter.check("org/m", "host:b")  # another client, same name: the name has room for one more
    limiter.record("org/m", "host:b")
    with pytest.raises(SubmissionRejected, match=r"model name 'ORG/M ' already has 2"):
        limiter.check("ORG/M ", "host:c")  # the name limit counts the name's identity, not its spelling
    now[0] += 601
    limiter.check("org/other", "host:a")  # the client's window has passed
    with pytest.raises(SubmissionRejected):
        limiter.check("org/m", "host:c")
    now[0] += 3600
    limiter.check("org/m", "host:c")


def test_name_rate_limit_holds_across_a_restart(tmp_path, bench):
    state = _state(tmp_path, bench, rate_per_name=RateLimit(1, 3600))
    assert state.submit(_upload(tmp_path, bench, 0), "org/m", None, "open", "general", client="host:a", meta_file=run_meta(tmp_path / "run.meta.json", None)).startswith("### Accepted")
    restarted = _state(tmp_path, bench, rate_per_name=RateLimit(1, 3600))
    message = restarted.submit(_upload(tmp_path, bench, 1), "org/m", None, "open", "general", client="host:b",
                               meta_file=run_meta(tmp_path / "run.meta.json", None))
    assert "rate limit: model name" in message and len(_stored(tmp_path)) == 1


def test_rate_limits_are_configurable_from_the_environment():
    cfg = SpaceConfig.from_env({"SPINEMED_RATE_PER_NAME": "5/86400", "SPINEMED_RATE_PER_CLIENT": "3/60"})
    assert cfg.rate_per_name == RateLimit(5, 86400) and cfg.rate_per_client == RateLimit(3, 60)
    assert SpaceConfig.from_env({}).rate_per_client == RateLimit(1, 600)
    for bad in ("lots", "0/60", "2/0", "2/nan"):
        with pytest.raises(ValueError, match="SPINEMED_RATE_PER_NAME: "):
            SpaceConfig.from_env({"SPINEMED_RATE_PER_NAME": bad})


def test_the_client_comes_from_the_gradio_request():
    assert client_id(None) is None
    assert client_id(SimpleNamespace(username="alice", client=SimpleNamespace(host="10.0.0.1"))) == "user:alice"
    assert client_id(SimpleNamespace(username=None, client=SimpleNamespace(host="10.0.0.1"))) == "host:10.0.0.1"
    assert client_id(SimpleNamespace(username=None, client=None)) is None


# --------------------------------------------------------------------------------------
# Names that impersonate a row
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "expected"), [
    ("GPT5\u3164", "U+3164 HANGUL FILLER, an invisible filler"),
    ("\u115fGPT5", "U+115F HANGUL CHOSEONG FILLER, an invisible filler"),
    ("GPT\u11605", "U+1160 HANGUL JUNGSEONG FILLER, an invisible filler"),
    ("GPT5\uffa0", "U+FFA0 HALFWIDTH HANGUL FILLER, an invisible filler"),
    ("\u202eGPT5", "U+202E RIGHT-TO-LEFT OVERRIDE, a bidirectional-text control"),
    ("GPT\u200d5", "U+200D ZERO WIDTH JOINER, an invisible format character"),
    ("GPT5\u2066", "U+2066 LEFT-TO-RIGHT ISOLATE, a bidirectional-text control"),
    ("GPT5\U000e0041", "U+E0041 TAG LATIN CAPITAL LETTER A, an invisible format character"),
])
def test_invisible_bidi_and_filler_characters_are_refused_by_code_point(name, expected):
    with pytest.raises(ValueError, match="model name: character") as info:
        validate_model_name(name)
    assert expected in str(info.value)


@pytest.mark.parametrize(("name", "paper"), [
    ("Medgemm\u0430-27B", "Medgemma-27B"),       # Cyrillic а
    ("GPT-4\u043e", "GPT-4o"),                   # Cyrillic о
    ("Gemini-2.5-Pr\u03bf", "Gemini-2.5-Pro"),   # Greek ο
    ("\uff27\uff30\uff34\uff15", "GPT5"),        # full-width: NFKC makes it the paper name itself
    ("gpt 4o", "GPT-4o"),                        # case and separators
    ("SpineGPT", "SpineGPT"),
])
def test_paper_row_names_and_their_look_alikes_are_reserved(name, paper):
    clean = validate_model_name(name)
    with pytest.raises(ValueError, match="is reserved: it reads as the paper's row") as info:
        check_name_free(clean, reserved=PAPER_NAMES)
    assert repr(paper) in str(info.value)


def test_impersonating_names_are_refused_on_the_page_and_store_nothing(tmp_path, bench):
    state = _state(tmp_path, bench)
    path = _upload(tmp_path, bench, 0)
    for name, expected in [("GPT5\u3164", "U+3164 HANGUL FILLER"), ("Medgemm\u0430-27B", "is reserved"),
                           ("\u202eB72-ammegdeM", "U+202E RIGHT-TO-LEFT OVERRIDE"), ("GPT\u200d5", "U+200D ZERO WIDTH JOINER")]:
        message = _plain(state.submit(path, name, None, "open", "general", client=f"host:{name}", meta_file=run_meta(tmp_path / "run.meta.json", None)))
        assert message.startswith("### Submission rejected: nothing was stored") and expected in message, message
    assert _stored(tmp_path) == []


def test_nfkc_variants_of_an_existing_name_are_that_name_and_look_alikes_are_refused(tmp_path, bench):
    assert validate_model_name("\uff4f\uff52\uff47\uff0f\uff2d\uff4f\uff44\uff45\uff4c\uff0d\uff17\uff22") == "org/Model-7B"
    state = _state(tmp_path, bench)
    assert state.submit(_upload(tmp_path, bench, 0), "org/Model-7B", None, "open", "general", client="host:a", meta_file=run_meta(tmp_path / "run.meta.json", None)).startswith("### Accepted")
    full_width = "\uff4f\uff52\uff47\uff0f\uff2d\uff4f\uff44\uff45\uff4c\uff0d\uff17\uff22"
    assert state.submit(_upload(tmp_path, bench, 1), full_width, None, "open", "general", client="host:b", meta_file=run_meta(tmp_path / "run.meta.json", None)).startswith("### Accepted")
    assert [r["model"]["name"] for r in _stored(tmp_path)] == ["org/Model-7B", "org/Model-7B"]
    for look_alike in ("org/M\u03bfdel-7B", "org/model-7b", "org/Model_7B"):
        message = _plain(state.submit(_upload(tmp_path, bench, 2), look_alike, None, "open", "general",
                                      client=f"host:{look_alike}", meta_file=run_meta(tmp_path / "run.meta.json", None)))
        assert "is confusable with the existing row 'org/Model-7B'" in message, message
    assert len(_stored(tmp_path)) == 2


def test_ordinary_names_in_any_script_are_accepted():
    for name in ("my-org/SpineLM-7B", "华佗GPT-7B", "Qwen2.5-VL-7B-spine", "Ярослав/модель-3"):
        check_name_free(validate_model_name(name), existing=["org/other"], reserved=PAPER_NAMES)
    assert name_skeleton("GPT-4\u043e") == name_skeleton("gpt_4o") == "gpt4o"
