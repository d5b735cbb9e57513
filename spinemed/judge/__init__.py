"""LLM-as-judge for SpineBench reports.

* :mod:`spinemed.judge.records`: :class:`JudgeResult` / :class:`JudgeRun` and their JSON, what
  the scorer and ``spinemed eval agreement`` read;
* :mod:`spinemed.judge.runner`: rubric prompts, strict parsing, bounded re-asks (:func:`judge_reports`).
"""

from spinemed.judge.records import JudgeResult, JudgeRun
from spinemed.judge.runner import (
    DEFAULT_PROMPT_DIR,
    DEFAULT_PROMPT_VERSION,
    JUDGEMENT_SCHEMA,
    PROMPT_DIR_ENV,
    JudgeParseError,
    JudgePrompts,
    build_messages,
    judge_reports,
    judge_reports_sync,
    load_prompts,
    parse_judgement,
)

__all__ = [
    "DEFAULT_PROMPT_DIR",
    "DEFAULT_PROMPT_VERSION",
    "JUDGEMENT_SCHEMA",
    "PROMPT_DIR_ENV",
    "JudgeParseError",
    "JudgePrompts",
    "JudgeResult",
    "JudgeRun",
    "build_messages",
    "judge_reports",
    "judge_reports_sync",
    "load_prompts",
    "parse_judgement",
]
