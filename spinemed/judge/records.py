"""The judge's records: one :class:`JudgeResult` per report item, a :class:`JudgeRun` per run,
and their JSON (the ``judge.json`` the evaluation runner writes).

Kept apart from the runner (:mod:`spinemed.judge.runner`: prompts, model calls, re-asks) so the
scorer and the agreement command read judge runs without the LLM client.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["JudgeResult", "JudgeRun"]


@dataclass
class JudgeResult:
    """The judgement of one report item.

    status: "ok" (scores valid), "invalid" (no valid reply within the attempts), "error" (the
    endpoint failed for good), "missing_output" (the model output was None; nothing sent).
    """

    index: int
    id: str
    status: str
    scores: dict[str, int] | None = None
    reasons: dict[str, str] | None = None
    attempts: int = 0
    error: str = ""
    raw: str = ""  # the last reply, kept for inspecting failures
    model: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass
class JudgeRun:
    """All judgements of one run plus what is needed to reproduce it."""

    results: list[JudgeResult]
    n_items: int  # length of the item list passed in (results cover its report items)
    judge_model: str
    backend: str
    prompt_version: str
    prompt_hash: str
    temperature: float = 0.0
    max_attempts: int = 3
    item_ids: list[str] = field(default_factory=list)
    # The judge requests' parameters as finally sent (spinemed.llm.params: after the model's
    # rules and any parameter the endpoint refused); {} when no request was sent.
    request_params: dict = field(default_factory=dict)

    @property
    def failures(self) -> list[JudgeResult]:
        return [r for r in self.results if not r.ok]

    def scores(self) -> list[dict[str, int] | None]:
        """Scores aligned with the item list passed in: None for non-reports and failures."""
        out: list[dict[str, int] | None] = [None] * self.n_items
        for r in self.results:
            if r.ok:
                out[r.index] = dict(r.scores)
        return out

    def errors(self) -> list[str | None]:
        """Failure reasons aligned with the item list passed in: set for judgements that failed
        ("invalid" / "error"), None elsewhere (a "missing_output" is no failure: the scorer
        floor-scores it)."""
        out: list[str | None] = [None] * self.n_items
        for r in self.results:
            if r.status in ("invalid", "error"):
                out[r.index] = f"{r.status}: {r.error}" if r.error else r.status
        return out

    def info(self) -> dict[str, Any]:
        """Judge metadata for the results payload (``score_predictions(judge_info=...)``)."""
        return {
            "judge_model": self.judge_model,
            "backend": self.backend,
            "prompt_version": self.prompt_version,
            "prompt_hash": self.prompt_hash,
            "temperature": self.temperature,
            "request_params": dict(self.request_params),
            "max_attempts": self.max_attempts,
            "judged": sum(r.ok for r in self.results),
            "failed": len(self.failures),
            "failures": [{"id": r.id, "status": r.status, "error": r.error} for r in self.failures],
        }

    def to_json(self) -> dict[str, Any]:
        """Everything, JSON-ready; :meth:`from_json` reads it back (what the runner writes as judge.json)."""
        return {**self.info(), "n_items": self.n_items, "item_ids": list(self.item_ids), "results": [asdict(r) for r in self.results]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str = "judge run") -> JudgeRun:
        """Rebuild a run from :meth:`to_json` output; a clear error names what is missing."""
        if not isinstance(data, Mapping):
            raise TypeError(f"{where}: expected a JSON object, got {type(data).__name__}")
        missing = [k for k in ("results", "judge_model", "prompt_version", "prompt_hash") if k not in data]
        if missing:
            raise ValueError(f"{where}: not a JudgeRun JSON (missing {', '.join(missing)})")
        if not isinstance(data["results"], list):
            raise ValueError(f"{where}: 'results' must be a list")
        fields = {f for f in JudgeResult.__dataclass_fields__}
        results = []
        for n, r in enumerate(data["results"]):
            if not isinstance(r, Mapping) or not {"index", "id", "status"} <= set(r):
                raise ValueError(f"{where}: results[{n}] needs 'index', 'id' and 'status'")
            results.append(JudgeResult(**{k: v for k, v in r.items() if k in fields}))
        item_ids = [str(i) for i in data.get("item_ids") or []]
        n_items = data.get("n_items")
        if not isinstance(n_items, int):  # written before n_items was recorded
            n_items = len(item_ids) or (max((r.index for r in results), default=-1) + 1)
        return cls(
            results=results, n_items=n_items, judge_model=str(data["judge_model"]), backend=str(data.get("backend", "")),
            prompt_version=str(data["prompt_version"]), prompt_hash=str(data["prompt_hash"]),
            temperature=float(data.get("temperature", 0.0)), max_attempts=int(data.get("max_attempts", 1)), item_ids=item_ids,
            request_params=dict(data.get("request_params") or {}),
        )

