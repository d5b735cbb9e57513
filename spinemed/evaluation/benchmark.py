"""Loading a SpineBench release for evaluation: identity checks, items, images.

A benchmark is identified by its manifest's ``name`` + ``version`` and by an *items hash*:
SHA-256 over every row's content (images included, as the hash of their bytes), computed from
the rows themselves.  Unlike the manifest's shard hash it does not depend on how parquet
encoded the rows, so a SpineBench rebuilt with another pyarrow still matches while any
changed item, answer or image does not.  :data:`KNOWN_BENCHMARKS` registers the released
versions; anything else is refused before any model is loaded, unless the caller explicitly
allows unregistered benchmarks (and the results then say ``registered: false``).

The shards are read straight from the folder with pyarrow after
:func:`spinemed.hub.verify_folder` has checked them against the manifest, so what is
evaluated is exactly what was hashed (no stale ``datasets`` cache can get in between).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from spinemed.hub import is_repo_id, verify_folder
from spinemed.schema import BENCH_CONFIGS, BENCH_KINDS, bench_kind, check_kinds

__all__ = [
    "KNOWN_BENCHMARKS",
    "Benchmark",
    "BenchmarkError",
    "KnownBenchmark",
    "items_hash",
    "load_benchmark",
    "resolve_benchmark_source",
]


class BenchmarkError(ValueError):
    """The benchmark cannot be evaluated as given (unknown version, missing images, wrong folder...)."""


@dataclass(frozen=True)
class KnownBenchmark:
    """A released SpineBench version.

    variant: "full" (the clinician-verified release) or "sample" (built by ``spinemed demo``
    from the shipped sample sources with simulated reviewers: for trying the tools, never
    for reporting a result).
    """

    name: str
    version: str
    items_hash: str
    counts: Mapping[str, int]
    variant: str = "full"
    repo: str | None = None
    note: str = ""


# Released SpineBench versions.  Add an entry when a version is tagged: its items hash is in
# the error `spinemed eval` gives for an unregistered benchmark and in every results file.
KNOWN_BENCHMARKS: tuple[KnownBenchmark, ...] = (
    # `spinemed demo`'s sample bench depends on which OCR engine read the sample scan (engines read a
    # page differently); one entry per engine that gives a different bench (tests/eval/test_eval.py).
    KnownBenchmark(
        name="spinebench",
        version="v1.0.0",
        items_hash="c88757075bfb139c45f61eb30213e12341edb10d81c1a9293e941bd132603c1a",
        counts={"text_mcq": 21, "image_mcq": 5, "report": 4},
        variant="sample",
        note="`spinemed demo` with RapidOCR (rapidocr-onnxruntime 1.4.4, the ocr extra) or no OCR engine: the shipped "
             "sample sources, simulated reviewers",
    ),
    KnownBenchmark(
        name="spinebench",
        version="v1.0.0",
        items_hash="55c82866ef236d8e61c7c035fb593a243d90d0b3f2029cec0a97ec7e3722d8c4",
        counts={"text_mcq": 21, "image_mcq": 5, "report": 4},
        variant="sample",
        note="`spinemed demo` with Tesseract 5 (Debian tesseract-ocr + chi-sim) reading the sample scan",
    ),
)

# Row fields the runner and the scorer use; everything else (messages, generation) stays on disk.
_ITEM_FIELDS = (
    "id", "task", "kind", "language", "modality", "subfield", "subfield_group", "levels",
    "question", "options", "answer", "explanation", "case", "report", "bench_version",
)


@dataclass
class Benchmark:
    """A loaded SpineBench: item dicts for the scorer plus the encoded images per item id."""

    name: str
    version: str
    content_hash: str | None
    items_hash: str
    source: str
    revision: str | None
    path: Path
    registered: bool
    variant: str | None
    repo: str | None
    items: list[dict[str, Any]]
    images: dict[str, list[bytes]] = field(repr=False)
    total_counts: dict[str, int] = field(default_factory=dict)  # per kind, before any subsetting
    subset: dict[str, Any] | None = None  # the --kinds / --limit selection, None = all items

    @property
    def counts(self) -> dict[str, int]:
        c = Counter(item["kind"] for item in self.items)
        return {k: c.get(k, 0) for k in BENCH_KINDS}

    @property
    def complete(self) -> bool:
        return self.subset is None

    def describe(self) -> dict[str, Any]:
        """The ``benchmark`` block of the results JSON."""
        return {
            "name": self.name,
            "version": self.version,
            "content_hash": self.content_hash,
            "items_hash": self.items_hash,
            "source": self.source,
            "revision": self.revision,
            "repo": self.repo,
            "registered": self.registered,
            "variant": self.variant,
            "items": len(self.items),
            "complete": self.complete,
            "total_counts": dict(self.total_counts),
            "subset": self.subset,
        }


def _image_bytes(cell: Any, folder: Path) -> bytes | None:
    """Encoded bytes of one image cell ({"bytes", "path"}), reading a relative path from the folder."""
    if isinstance(cell, Mapping):
        if cell.get("bytes"):
            return bytes(cell["bytes"])
        if cell.get("path"):
            p = Path(cell["path"])
            p = p if p.is_absolute() else folder / p
            return p.read_bytes() if p.is_file() else None
    return None


def _canonical_row(row: Mapping[str, Any], image_hashes: list[str]) -> str:
    clean = {k: v for k, v in row.items() if k != "images"}
    clean["images"] = image_hashes
    return json.dumps(clean, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def items_hash(row_hashes: Iterable[tuple[str, str, str]]) -> str:
    """SHA-256 over sorted ``(config, id, row hash)`` lines: the benchmark's content identity."""
    lines = sorted(f"{c}\t{i}\t{h}\n" for c, i, h in row_hashes)
    return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()


def resolve_benchmark_source(source: str | Path, revision: str | None = None) -> tuple[Path, str | None, str | None]:
    """A local folder as is; ``ORG/NAME`` (optionally ``ORG/NAME@REV``) downloaded from the Hub.

    Returns ``(folder, repo or None, revision or None)``.
    """
    text = str(source)
    path = Path(text).expanduser()
    if path.exists():
        if not path.is_dir():
            raise BenchmarkError(f"benchmark {text!r} is a file; expected a SpineBench dataset folder or a Hub repo id")
        return path, None, revision
    repo, _, rev = text.partition("@")
    if rev and revision and rev != revision:
        raise BenchmarkError(f"benchmark {text!r} names revision {rev!r} but the revision argument says {revision!r}")
    revision = revision or rev or None
    if not is_repo_id(repo):
        raise BenchmarkError(f"benchmark {text!r}: no such folder, and not a Hub dataset repo id (ORG/NAME)")
    try:
        from huggingface_hub import snapshot_download

        local = snapshot_download(repo_id=repo, repo_type="dataset", revision=revision)
    except Exception as exc:  # RepositoryNotFound, RevisionNotFound, offline mode, network errors
        raise BenchmarkError(
            f"cannot download SpineBench {repo!r}{f' at revision {revision!r}' if revision else ''} from the Hub: "
            f"{type(exc).__name__}: {exc}"
        ) from None
    return Path(local), repo, revision


def load_benchmark(
    source: str | Path,
    *,
    revision: str | None = None,
    allow_unregistered: bool = False,
    kinds: Sequence[str] | None = None,
    limit: int | None = None,
    registry: Sequence[KnownBenchmark] = KNOWN_BENCHMARKS,
) -> Benchmark:
    """Load and check a SpineBench folder or Hub repo; every problem is raised before any work.

    Args:
        source: a SpineBench dataset folder, or a Hub dataset repo id (``ORG/NAME[@REV]``).
        revision: Hub revision (tag such as ``v1.0.0``, branch or commit) for a repo id.
        allow_unregistered: evaluate a benchmark whose name/version/items hash is not in
            `registry` (a local rebuild, a modified copy); the results record it.
        kinds: evaluate only these kinds (``text_mcq``, ``image_mcq``, ``report``).
        limit: evaluate at most this many items of each kind (smoke runs).
        registry: the known releases (default :data:`KNOWN_BENCHMARKS`).

    Raises:
        BenchmarkError: not a SpineBench folder, shards that do not match the manifest, an
            unknown version or modified content, image items without readable images.
    """
    if kinds is not None:
        try:
            kinds = check_kinds(kinds)
        except ValueError as exc:
            raise BenchmarkError(f"kinds {list(kinds)!r}: {exc}") from None
    if limit is not None and limit < 1:
        raise BenchmarkError(f"limit must be >= 1, got {limit}")
    folder, repo, revision = resolve_benchmark_source(source, revision)
    try:
        manifest = verify_folder(folder)
    except ValueError as exc:
        raise BenchmarkError(f"benchmark {str(source)!r}: {exc}") from None
    name, version = str(manifest.get("name") or ""), str(manifest.get("version") or "")
    split = manifest.get("split")
    configs = sorted({s["config"] for s in manifest["shards"]})
    if split != "test" or not set(configs) <= set(BENCH_CONFIGS):
        raise BenchmarkError(
            f"{str(folder)!r} is not a SpineBench folder: it holds split {split!r} with configs {configs} "
            f"(SpineBench has split 'test' and configs {list(BENCH_CONFIGS)}); is it the training corpus?"
        )
    if repo and revision and re.match(r"^v\d+\.\d+\.\d+$", revision) and revision != version:
        raise BenchmarkError(f"{repo}@{revision}: the manifest says version {version!r}; the tag and the content disagree")

    items, images, row_hashes = _read_items(folder, manifest)
    digest = items_hash(row_hashes)
    registered, variant = _check_registry(name, version, digest, registry, allow_unregistered, folder)
    known = next((k for k in registry if k.items_hash == digest), None)
    total_counts = Counter(item["kind"] for item in items)
    _check_images(items, images)

    subset = None
    if kinds is not None or limit is not None:
        keep_kinds = set(kinds or BENCH_KINDS)
        seen: Counter = Counter()
        selected = []
        for item in items:
            if item["kind"] in keep_kinds and (limit is None or seen[item["kind"]] < limit):
                seen[item["kind"]] += 1
                selected.append(item)
        if not selected:
            raise BenchmarkError(f"benchmark {name}@{version}: no items of kind(s) {sorted(keep_kinds)}")
        if len(selected) < len(items):
            subset = {"kinds": sorted(keep_kinds) if kinds is not None else None, "limit_per_kind": limit}
        items = selected
        images = {i["id"]: images[i["id"]] for i in items}
    return Benchmark(
        name=name,
        version=version,
        content_hash=manifest.get("content_hash"),
        items_hash=digest,
        source=repo or str(source),
        revision=revision,
        path=folder,
        registered=registered,
        variant=variant,
        repo=repo or (known.repo if known else None),
        items=items,
        images=images,
        total_counts={k: total_counts.get(k, 0) for k in BENCH_KINDS},
        subset=subset,
    )


def _read_items(folder: Path, manifest: Mapping[str, Any]):
    items: list[dict[str, Any]] = []
    images: dict[str, list[bytes]] = {}
    row_hashes: list[tuple[str, str, str]] = []
    seen: dict[str, str] = {}
    version = manifest.get("version")
    for shard in sorted(manifest["shards"], key=lambda s: s["path"]):
        config = shard["config"]
        for row in pq.read_table(folder / shard["path"]).to_pylist():
            rid = str(row.get("id") or "")
            where = f"{shard['path']}: row {rid or '(no id)'}"
            if not rid:
                raise BenchmarkError(f"{where}: empty id")
            if rid in seen:
                raise BenchmarkError(f"{where}: id appears twice (also in {seen[rid]})")
            seen[rid] = shard["path"]
            try:
                kind = bench_kind(row)
            except ValueError as exc:
                raise BenchmarkError(f"{where}: {exc}") from None
            if row.get("kind") != kind:
                raise BenchmarkError(f"{where}: kind {row.get('kind')!r} does not match task/modality ({kind!r})")
            if row.get("bench_version") not in (None, "", version):
                raise BenchmarkError(f"{where}: bench_version {row['bench_version']!r} but the manifest says {version!r}")
            cells = row.get("images") or []
            blobs = [_image_bytes(c, folder) for c in cells]
            hashes = [hashlib.sha256(b).hexdigest() if b is not None else "missing" for b in blobs]
            row_hashes.append((config, rid, hashlib.sha256(_canonical_row(row, hashes).encode("utf-8")).hexdigest()))
            item = {k: row[k] for k in _ITEM_FIELDS if k in row}
            item["source_type"] = str((row.get("provenance") or {}).get("source_type") or "")
            item["n_images"] = len(cells)
            items.append(item)
            images[rid] = blobs
    if not items:
        raise BenchmarkError(f"{str(folder)!r}: the benchmark has no items")
    return items, images, row_hashes


def _check_registry(name, version, digest, registry, allow_unregistered, folder) -> tuple[bool, str | None]:
    same_version = [k for k in registry if (k.name, k.version) == (name, version)]
    match = next((k for k in same_version if k.items_hash == digest), None)
    if match is not None:
        return True, match.variant
    hint = "pass --allow-unregistered (allow_unregistered=True) to evaluate it anyway; the results will say registered: false"
    if same_version:
        problem = (
            f"{str(folder)!r} claims {name} {version}, but its items hash {digest} matches no registered "
            f"{name} {version} ({', '.join(k.items_hash[:16] + '...' for k in same_version)}): the items were "
            "modified or rebuilt differently"
        )
    else:
        known = ", ".join(sorted({f"{k.name} {k.version}" for k in registry})) or "none registered yet"
        problem = (f"{str(folder)!r} is {name or '(no name)'} {version or '(no version)'} (items hash {digest}), "
                   f"which is not a known SpineBench release (known: {known})")
    if not allow_unregistered:
        raise BenchmarkError(f"{problem}; {hint}")
    return False, None


def _check_images(items: list[dict[str, Any]], images: Mapping[str, list[bytes | None]]) -> None:
    """Every image item has at least one image and every image decodes (else: one error listing all)."""
    from PIL import Image, UnidentifiedImageError

    problems = []
    for item in items:
        blobs = images[item["id"]]
        if item["modality"] == "image" and not blobs:
            problems.append(f"{item['id']} ({item['kind']}): no image")
        for i, blob in enumerate(blobs):
            if blob is None:
                problems.append(f"{item['id']}: images[{i}] has no bytes and its file is missing")
                continue
            try:
                with Image.open(io.BytesIO(blob)) as img:
                    img.verify()
            except (UnidentifiedImageError, OSError, SyntaxError) as exc:
                problems.append(f"{item['id']}: images[{i}] is not a readable image ({type(exc).__name__}: {exc})")
    if problems:
        shown = "; ".join(problems[:10]) + (f"; ... and {len(problems) - 10} more" if len(problems) > 10 else "")
        raise BenchmarkError(f"{len(problems)} missing or unreadable image(s): {shown}")
