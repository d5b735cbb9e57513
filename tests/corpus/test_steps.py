"""The corpus build's step contract (spinemed.corpus.step): composition, order, quarantine, shards."""

import asyncio
from collections import Counter
from pathlib import Path

import pytest

from spinemed.corpus.dedup import Deduper, Deduplicate
from spinemed.corpus.deidentify import Deidentify
from spinemed.corpus.offline_rules import RulesBackend
from spinemed.corpus.pipeline import BuildConfig, CorpusBuilder
from spinemed.corpus.sources import ReadSources, iter_sources
from spinemed.corpus.step import MemoryQuarantine, PipelineStep, in_shard, run_steps, shard_of
from spinemed.deid.provenance import ProvenanceIds
from spinemed.llm.client import LLMClient
from spinemed.schema import SourceIssue

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ROOT / "builders" / "spinemed_450k" / "sources"


def _entries(rank=0, world_size=1):
    records, issues = [], []
    for e in iter_sources(SOURCES, rank, world_size):
        (issues if isinstance(e, SourceIssue) else records).append(e)
    return records, issues


@pytest.mark.parametrize("world_size", [2, 3])
def test_shards_together_read_every_record_exactly_once(world_size):
    records, issues = _entries()
    shards = [_entries(rank, world_size) for rank in range(world_size)]
    ids = Counter(r.record_id for recs, _ in shards for r in recs)
    assert ids == Counter(r.record_id for r in records) and max(ids.values()) == 1
    assert sorted((i.source_file, i.reason) for _, iss in shards for i in iss) == sorted((i.source_file, i.reason) for i in issues)
    assert all(recs for recs, _ in shards)  # the sample has enough files to give every shard some
    ranks_of_file = {}
    for rank, (recs, _) in enumerate(shards):
        for r in recs:
            ranks_of_file.setdefault(r.source_file, set()).add(rank)
    assert all(len(ranks) == 1 for ranks in ranks_of_file.values())  # a file's records stay together


def test_shard_of_is_stable_and_rank_is_checked():
    assert shard_of("textbook/ch03.md", 1) == 0
    assert shard_of("textbook/ch03.md", 4) == shard_of("textbook/ch03.md", 4) < 4
    assert in_shard("anything", 0, 1)
    with pytest.raises(ValueError):
        in_shard("anything", 2, 2)


class _DropEveryThird(PipelineStep):
    name = "toy"

    async def process(self, window):
        kept = []
        for i, doc in enumerate(window):
            if i % 3 == 2:
                self.drop(doc, "third")
                self.stats["toy"]["dropped"] += 1
            else:
                kept.append(doc)
        return kept


def test_steps_compose_keep_order_and_account_for_every_record():
    records, _ = _entries()
    quarantine = MemoryQuarantine()
    steps = [ReadSources(SOURCES, window=4), Deidentify(ProvenanceIds(), SOURCES),
             Deduplicate(Deduper(threshold=0.8)), _DropEveryThird()]

    async def collect():
        return [doc async for window in run_steps(steps, quarantine) for doc in window]

    out = asyncio.run(collect())
    order = [r.record_id for r in records]
    kept = [d.record.record_id for d in out]
    assert kept == sorted(kept, key=order.index)  # input order survives
    by_kind = Counter(e[0] for e in quarantine.entries)
    assert steps[0].stats["sources"]["records"] == len(records)
    assert len(out) + by_kind["record"] + by_kind["duplicate"] == len(records)
    assert by_kind["duplicate"] == 2 and steps[-1].stats["toy"]["dropped"] > 0
    assert {e[2] for e in quarantine.entries if e[0] == "record"} >= {"toy"}


def test_sharded_builds_account_for_every_source_record(tmp_path):
    records, _ = _entries()
    total = 0
    for rank in range(2):
        out = tmp_path / f"shard{rank}"
        summary = CorpusBuilder(BuildConfig(out=out), progress=None).run(rank=rank, world_size=2)
        a = summary["accounting"]
        assert a["balanced"] and 0 < a["source_records"] < len(records)
        total += a["source_records"]
    assert total == len(records)


class _PeakBackend(RulesBackend):
    """The offline rules, slowed a little, counting how many requests are in flight at once."""

    def __init__(self):
        super().__init__()
        self.active = self.peak = 0

    async def complete(self, request):
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            await asyncio.sleep(0.002)
            return await super().complete(request)
        finally:
            self.active -= 1


def test_requests_of_a_window_are_in_flight_together(tmp_path):
    backend = _PeakBackend()
    client = LLMClient(backend, concurrency=8, require_deid_stamp=True)
    summary = CorpusBuilder(BuildConfig(out=tmp_path / "out", limit=40), client=client, progress=None).run()
    assert summary["accounting"]["balanced"]
    assert backend.peak == 8  # the client's limit, not one request at a time
