"""A PCM consistency check that could not run is quarantined as "check failed", never as a
verdict, and is asked again on a rerun with the same request cache (issue 13, part 3)."""

import asyncio
import io
from pathlib import Path

from spinemed.corpus.offline_rules import RulesBackend
from spinemed.corpus.pcm import PictureContextCheck
from spinemed.corpus.pipeline import BuildConfig, CorpusBuilder
from spinemed.corpus.prompts import load_prompts
from spinemed.corpus.step import MemoryQuarantine, run_steps
from spinemed.llm.base import LLMError
from spinemed.llm.cache import RequestCache
from spinemed.llm.client import LLMClient

SOURCES = Path(__file__).resolve().parents[2] / "builders" / "spinemed_450k" / "sources"


class _PCMDown(RulesBackend):
    """The offline rules, except that every PCM-check request fails (an endpoint error)."""

    def __init__(self, down: bool):
        super().__init__()
        self.down = down
        self.pcm_calls = 0

    async def complete(self, request):
        if "FIGURE" in str(request.messages[-1]["content"]):
            self.pcm_calls += 1
            if self.down:
                raise LLMError("HTTP 503 from http://pcm.invalid/v1/chat/completions: overloaded")
        return await super().complete(request)


def _pcm_quarantine(tmp_path: Path, backend: _PCMDown) -> tuple[list[tuple], dict]:
    """Read + deidentify + PCM over the shipped sources with `backend`, sharing one cache file."""
    builder = CorpusBuilder(BuildConfig(out=tmp_path / "out", work_dir=tmp_path / "work"),
                            client=LLMClient(backend, cache=RequestCache(tmp_path / "work" / "requests.sqlite"),
                                             retries=0, require_deid_stamp=True), progress=None)
    pcm = next(s for s in builder.steps if isinstance(s, PictureContextCheck))
    steps = builder.steps[: builder.steps.index(pcm) + 1]
    quarantine = MemoryQuarantine()

    async def drain():
        return [d async for w in run_steps(steps, quarantine) for d in w]

    asyncio.run(drain())
    builder.client.cache.close()
    return [e for e in quarantine.entries if e[2] == "pcm"], dict(pcm.stats["pcm"])


def test_failed_check_is_quarantined_as_check_failed_and_retried_on_rerun(tmp_path):
    down = _PCMDown(down=True)
    entries, stats = _pcm_quarantine(tmp_path, down)
    assert down.pcm_calls > 0 and stats == {"check_failed": down.pcm_calls}
    assert len(entries) == down.pcm_calls
    for entry in entries:
        assert entry[3].startswith("check failed: ") and "503" in entry[3], entry
        assert "mismatch" not in entry[3]

    # The endpoint is back: the same cache holds no answer for the failed checks, so every one
    # is asked again and ends with a verdict (the offline rules: consistent, or one mismatch).
    up = _PCMDown(down=False)
    entries2, stats2 = _pcm_quarantine(tmp_path, up)
    assert up.pcm_calls == down.pcm_calls
    assert "check_failed" not in stats2 and stats2.get("consistent", 0) + stats2.get("mismatch", 0) == up.pcm_calls
    assert all(e[3].startswith("picture-context mismatch: ") for e in entries2)


def _png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (8, 8)).save(buf, "PNG")
    return buf.getvalue()


def test_model_error_answer_is_a_failed_check_not_a_crash_or_a_mismatch():
    class _ErrorAnswer:
        async def ask_json(self, msgs, check=None, *, record):
            return {"error": "cannot see the image"}, '{"error": "cannot see the image"}'

    builder_prompts = load_prompts(SOURCES.parent / "prompts")  # the shipped builder's prompts
    step = PictureContextCheck(_ErrorAnswer(), builder_prompts["pcm_check"])

    class _Img:
        label, caption, description = "Figure 1", "Lumbar MRI", ""

    class _Rec:
        kind, images, context, record_id = "figure", [_Img()], "", "r1"

    class _Doc:
        record, images = _Rec(), [{"bytes": _png()}]

    kept = asyncio.run(step.process([_Doc()]))
    assert kept == [] and step.stats["pcm"] == {"check_failed": 1}
    [(kind, rid, stage, reason)] = step.quarantine.entries
    assert stage == "pcm" and reason.startswith("check failed: the model gave no verdict: cannot see the image")

