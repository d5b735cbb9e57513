"""Test helper: edit a built release folder by hand, as a person would, and keep it verifiable."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from spinemed.hub import _content_hash, _sha256, load_manifest, verify_folder


def rewrite_first_shard(folder: Path, config: str, edit) -> None:
    """Apply `edit(rows)` to the first shard of `config` and re-hash the manifest: the folder
    still verifies, so only the publish gate stands between the edit and the Hub."""
    shard = sorted((Path(folder) / "data" / config).glob("*.parquet"))[0]
    table = pq.read_table(shard)
    rows = table.to_pylist()
    edit(rows)
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), shard)
    manifest = load_manifest(folder)
    for s in manifest["shards"]:
        path = Path(folder) / s["path"]
        s["sha256"], s["num_bytes"] = _sha256(path), path.stat().st_size
    manifest["content_hash"] = _content_hash(manifest["shards"])
    (Path(folder) / "manifest.json").write_text(json.dumps(manifest, indent=2), "utf-8")
    verify_folder(folder)


def request_text_and_images(body: dict) -> tuple[str, list[bytes]]:
    """All the text of a captured chat request body (as JSON, non-ASCII unescaped) and its
    decoded data-URL images: what left the machine."""
    import base64

    images = []
    for message in body.get("messages", []):
        content = message.get("content")
        for part in content if isinstance(content, list) else []:
            url = (part.get("image_url") or {}).get("url", "") if isinstance(part, dict) else ""
            if url.startswith("data:"):
                images.append(base64.b64decode(url.split(",", 1)[1]))
    return json.dumps(body, ensure_ascii=False), images
