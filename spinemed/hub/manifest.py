"""The manifest: shard hashes, counts and versions of a built folder, written last (it marks completion).

`write_manifest` hashes every shard; `verify_folder` checks a folder against its manifest
(the check every publish and every benchmark load runs); `compare_manifests` says what
changed between two builds.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from huggingface_hub import DatasetCard

from spinemed.fileio import atomic_write_json

from .writer import CARD_NAME, DATA_DIR, MANIFEST_NAME

__all__ = ["MANIFEST_FORMAT", "check_version", "write_manifest", "load_manifest", "compare_manifests",
           "verify_folder"]

MANIFEST_FORMAT = 1
_VERSION_RE = re.compile(r"^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
_SHARD_RE = re.compile(r"^(?P<split>[A-Za-z0-9_.-]+?)-(?P<i>\d{5})-of-(?P<n>\d{5})\.parquet$")


def check_version(version: str) -> str:
    """Return `version` if it is a release tag `vX.Y.Z`, else raise ValueError."""
    if not isinstance(version, str) or not _VERSION_RE.match(version):
        raise ValueError(f"version {version!r} is not a release tag of the form vX.Y.Z (e.g. 'v1.0.0')")
    return version


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _scan_shards(folder: Path) -> list[dict[str, Any]]:
    data = folder / DATA_DIR
    if not data.is_dir():
        raise ValueError(f"{str(folder)!r} has no {DATA_DIR}/ folder of shards")
    shards = []
    for path in sorted(data.rglob("*")):
        if path.is_dir():
            continue
        rel = path.relative_to(folder).as_posix()
        parts = path.relative_to(data).parts
        if len(parts) != 2 or not _SHARD_RE.match(parts[1]):
            raise ValueError(f"unexpected file {rel!r}: shards are {DATA_DIR}/<config>/<split>-NNNNN-of-NNNNN.parquet")
        try:
            num_rows = pq.ParquetFile(path).metadata.num_rows
        except (pa.ArrowException, OSError) as exc:
            raise ValueError(f"shard {rel!r} is not a readable parquet file ({exc})") from None
        shards.append(
            {
                "path": rel,
                "config": parts[0],
                "sha256": _sha256(path),
                "num_rows": num_rows,
                "num_bytes": path.stat().st_size,
            }
        )
    if not shards:
        raise ValueError(f"{str(folder)!r} has no parquet shards under {DATA_DIR}/")
    return shards


def _content_hash(shards: list[Mapping[str, Any]]) -> str:
    lines = sorted(f"{s['path']}\t{s['sha256']}\t{s['num_rows']}\n" for s in shards)
    return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()


_REQUIRED_VERSIONS = ("pipeline", "criteria", "deid")


def write_manifest(
    out_dir: str | os.PathLike,
    *,
    name: str,
    version: str,
    versions: Mapping[str, str],
    stats: Mapping[str, Any],
    extra: Mapping[str, Any],
    attachments: list[str] | tuple[str, ...] = (),
) -> dict[str, Any]:
    """Hash every shard and write `manifest.json` (last step of a build: it marks completion).

    `attachments` are other files of the folder that ship with the release (e.g. an audit
    log): recorded with their sha256, checked by `verify_folder` and uploaded by `publish_folder`.

    `content_hash` covers shard paths, hashes and row counts only, so two builds of the same
    inputs compare equal whatever their `created_at`.  Raises ValueError when the shards on
    disk disagree with `stats` (stats from another build) or a required version is missing.
    """
    folder = Path(out_dir)
    check_version(version)
    missing = [k for k in _REQUIRED_VERSIONS if not versions.get(k)]
    if missing:
        raise ValueError(f"versions is missing {missing}; expected keys {list(_REQUIRED_VERSIONS)}")
    shards = _scan_shards(folder)
    per_config = Counter()
    for shard in shards:
        per_config[shard["config"]] += shard["num_rows"]
    expected = {c: info["num_rows"] for c, info in stats["configs"].items() if info["num_rows"]}
    if dict(per_config) != expected:
        raise ValueError(f"shards in {str(folder)!r} hold rows {dict(per_config)} but stats say {expected}")
    manifest = {
        "format": MANIFEST_FORMAT,
        "name": name,
        "version": version,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "versions": dict(sorted(versions.items())),
        "split": stats["split"],
        "default_config": stats["default_config"],
        "counts": {
            "num_rows": stats["num_rows"],
            "num_images": stats["num_images"],
            "configs": {c: info["num_rows"] for c, info in stats["configs"].items()},
            "breakdowns": stats["breakdowns"],
        },
        "shards": shards,
        "content_hash": _content_hash(shards),
        "attachments": [_attachment(folder, rel) for rel in attachments],
        "build": dict(extra),
    }
    try:  # json.dumps runs before the file is touched: a bad manifest leaves the folder incomplete
        atomic_write_json(folder / MANIFEST_NAME, manifest, indent=2)
    except TypeError as exc:
        raise ValueError(f"manifest for {name}: extra/stats must be JSON-serialisable ({exc})") from None
    return manifest


def _attachment(folder: Path, rel: str) -> dict[str, Any]:
    path = folder / rel
    if Path(rel).is_absolute() or ".." in Path(rel).parts or not path.is_file():
        raise ValueError(f"attachment {rel!r} must be an existing file inside {str(folder)!r}")
    if rel in (CARD_NAME, MANIFEST_NAME) or rel.startswith(f"{DATA_DIR}/"):
        raise ValueError(f"attachment {rel!r} would shadow the card, manifest or shards")
    return {"path": rel, "sha256": _sha256(path), "num_bytes": path.stat().st_size}


def load_manifest(folder_or_file: str | os.PathLike) -> dict[str, Any]:
    """Read a manifest from a dataset folder or a manifest.json path."""
    path = Path(folder_or_file)
    if path.is_dir():
        path = path / MANIFEST_NAME
    if not path.is_file():
        raise ValueError(f"{str(path)!r} not found: the folder is not a complete build (no manifest)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{str(path)!r} is not valid JSON ({exc})") from None


def compare_manifests(a: Mapping[str, Any] | str | os.PathLike, b: Mapping[str, Any] | str | os.PathLike) -> dict:
    """What changed from build `a` to build `b`: shards added/removed/changed and count deltas."""
    a = a if isinstance(a, Mapping) else load_manifest(a)
    b = b if isinstance(b, Mapping) else load_manifest(b)
    sa = {s["path"]: s for s in a["shards"]}
    sb = {s["path"]: s for s in b["shards"]}

    def delta(x: Mapping[str, int], y: Mapping[str, int]) -> dict[str, int]:
        return {k: y.get(k, 0) - x.get(k, 0) for k in sorted(set(x) | set(y)) if y.get(k, 0) != x.get(k, 0)}

    ca, cb = a["counts"], b["counts"]
    breakdowns = {}
    for dim in sorted(set(ca.get("breakdowns", {})) | set(cb.get("breakdowns", {}))):
        d = delta(ca.get("breakdowns", {}).get(dim, {}), cb.get("breakdowns", {}).get(dim, {}))
        if d:
            breakdowns[dim] = d
    return {
        "same_content": a["content_hash"] == b["content_hash"],
        "content_hash": {"a": a["content_hash"], "b": b["content_hash"]},
        "version": {"a": a.get("version"), "b": b.get("version")},
        "added": sorted(set(sb) - set(sa)),
        "removed": sorted(set(sa) - set(sb)),
        "changed": sorted(p for p in set(sa) & set(sb) if sa[p]["sha256"] != sb[p]["sha256"]),
        "count_deltas": {
            "num_rows": cb["num_rows"] - ca["num_rows"],
            "num_images": cb.get("num_images", 0) - ca.get("num_images", 0),
            "configs": delta(ca["configs"], cb["configs"]),
            "breakdowns": breakdowns,
        },
    }


def verify_folder(folder: str | os.PathLike) -> dict[str, Any]:
    """Check a built folder is complete and intact; return its manifest.

    Complete = manifest present; intact = every recorded shard exists with its hash and row
    count, no unrecorded shard under data/, and README.md has YAML that parses with a
    `configs:` entry for every config that has shards.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"dataset folder {str(folder)!r} does not exist")
    manifest = load_manifest(folder)
    recorded = {s["path"]: s for s in manifest.get("shards", [])}
    on_disk = {s["path"]: s for s in _scan_shards(folder)}
    missing = sorted(set(recorded) - set(on_disk))
    if missing:
        raise ValueError(f"{str(folder)!r}: shards in the manifest but missing on disk: {missing[:5]}")
    unrecorded = sorted(set(on_disk) - set(recorded))
    if unrecorded:
        raise ValueError(f"{str(folder)!r}: shards on disk but not in the manifest (stale or foreign): {unrecorded[:5]}")
    modified = sorted(
        path
        for path, shard in recorded.items()
        if (on_disk[path]["sha256"], on_disk[path]["num_rows"]) != (shard["sha256"], shard["num_rows"])
    )
    if modified:
        raise ValueError(f"{str(folder)!r}: shards modified after the build (hash mismatch): {modified[:5]}")
    if _content_hash(list(recorded.values())) != manifest.get("content_hash"):
        raise ValueError(f"{str(folder)!r}: manifest content_hash does not match its shard list")
    for att in manifest.get("attachments") or []:
        path = folder / att["path"]
        if not path.is_file() or _sha256(path) != att["sha256"]:
            raise ValueError(f"{str(folder)!r}: attachment {att['path']!r} is missing or modified after the build")

    card_path = folder / CARD_NAME
    if not card_path.is_file():
        raise ValueError(f"{str(folder)!r} has no {CARD_NAME} (dataset card)")
    try:
        card_data = DatasetCard.load(card_path).data.to_dict()
    except Exception as exc:
        raise ValueError(f"{str(card_path)!r}: YAML front matter does not parse ({exc})") from None
    declared = {c.get("config_name") for c in card_data.get("configs") or []}
    missing = sorted({s["config"] for s in recorded.values()} - declared)
    if missing:
        raise ValueError(f"{str(card_path)!r}: YAML `configs:` lacks {missing}, which have shards")
    return manifest
