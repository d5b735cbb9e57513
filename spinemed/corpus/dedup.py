"""Exact and near-duplicate detection: normalised-text hashing plus MinHash LSH.

The corpus build drops exact and near-duplicate passages (threshold 0.8); SpineBench
decontamination reuses the same index at a lower threshold (e.g. 0.5) to remove bench items
and their near duplicates from training data, querying a saved bench index with ``add=False``.

Pipeline per text:

* ``normalize_text``: NFKC, casefold, punctuation -> space, whitespace collapsed, spaces next
  to Han/kana removed.  Its 64-bit xxh3 hash finds exact duplicates.
* ``shingles``: CJK-aware tokens (one token per Han/kana/hangul character, one per run of
  other letters/digits), k-grams over that stream, each hashed to 32 bits with xxh32.
  Chinese gets character k-grams, English word k-grams, mixed text both.
* ``MinHasher``: ``num_perm`` multiply-add-shift hashes ``h(x) = ((a*x + b) mod 2**64) >> 32``
  (Dietzfelbinger's strongly universal family for 32-bit keys), min over shingles.
  Coefficients come from blake2b of (seed, index), so signatures are identical across
  processes, machines and numpy versions; Python's randomised ``hash()`` is never used.
* ``Deduper``: LSH with ``bands x rows`` chosen like datasketch's ``_optimal_param``; every
  candidate is verified by the Jaccard estimate from stored signatures, so LSH collisions
  never produce a false "near".  Only kept (unique) items are indexed: a flagged item always
  points at a kept one.

Memory per indexed item (num_perm=128, threshold 0.8 -> 14 bands), measured at 200k items:
512 B signature row (uint32, fixed-size numpy chunks) + 224-448 B of band-bucket table (14
entries x 8 B at load 1/4-1/2) + ~88 B exact-hash dict entry + the key string (~67 B for
"item-123456"): ~1.05 KB allocated, ~1.2 KB of RSS growth.  ``benchmarks/bench_dedup.py``
measures throughput, recall and RSS.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
import xxhash

from ..schema import SourceRecord
from ..text import normalize_text, tokens_of
from .step import PipelineStep, Window

__all__ = [
    "DedupResult",
    "Deduper",
    "Deduplicate",
    "MinHasher",
    "dedup_text",
    "near_duplicate_pairs",
    "normalize_text",
    "optimal_lsh_params",
    "shingles",
]

FORMAT = "spinemed-dedup/1"
# Bumped whenever normalisation, tokenisation or hashing changes, so a saved index built
# with different hashing is refused instead of silently answering "unique" for everything.
HASH_SCHEME = "nfkc-casefold-punct/cjk-char+word/xxh32/mas64-blake2b/1"

# --- normalisation and tokenisation: spinemed.text (one definition for dedup, decontamination
# and the retrieval baseline; HASH_SCHEME above names it) -----------------------------------


def shingle_hashes(tokens: list[str], k: int) -> list[int]:
    """xxh32 of each space-joined k-gram (tokens contain no spaces, so the join is unambiguous)."""
    if len(tokens) <= k:
        grams = [" ".join(tokens)]
    else:
        grams = map(" ".join, zip(*(tokens[i:] for i in range(k))))
    h = xxhash.xxh32_intdigest
    return [h(g.encode("utf-8")) for g in grams]


def _check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"shingle size k must be an int >= 1, got {k!r}")
    return k


def _check_threshold(threshold: float) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
        raise ValueError(f"threshold must be a number strictly between 0 and 1, got {threshold!r}")
    threshold = float(threshold)
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be strictly between 0 and 1, got {threshold!r}")
    return threshold


def _check_weights(weights: tuple[float, float]) -> tuple[float, float]:
    try:
        fp, fn = (float(w) for w in weights)
    except (TypeError, ValueError):
        raise ValueError(
            f"weights must be two numbers (false positive, false negative), got {weights!r}"
        ) from None
    if fp < 0 or fn < 0 or not math.isfinite(fp + fn) or fp + fn <= 0:
        raise ValueError(f"weights must be non-negative with a positive sum, got {weights!r}")
    return fp / (fp + fn), fn / (fp + fn)


def shingles(text: str, k: int = 3) -> set[int]:
    """32-bit hashes of the CJK-aware token k-grams of ``normalize_text(text)``.

    A text with fewer than ``k`` tokens gives one shingle of all its tokens (the empty text
    gives the hash of the empty string), so every text has a non-empty shingle set.
    """
    _check_k(k)
    return set(shingle_hashes(tokens_of(normalize_text(text)), k))


# --- MinHash -------------------------------------------------------------------------------


class MinHasher:
    """MinHash signatures over 32-bit shingle hashes, vectorised with numpy.

    ``h_i(x) = ((a_i * x + b_i) mod 2**64) >> 32`` with odd 64-bit ``a_i``: strongly universal
    for 32-bit ``x`` and one multiply-add per (shingle, permutation) in wrapping uint64, unlike
    ``mod (2**61 - 1)``, which needs 128-bit products.  ``min(h >> 32) == min(h) >> 32``, so the
    shift is applied once per permutation.
    """

    _CHUNK = 4096  # shingles per block: bounds the (num_perm x block) uint64 temporary to 4 MiB

    def __init__(self, num_perm: int = 128, seed: int = 1):
        if isinstance(num_perm, bool) or not isinstance(num_perm, int) or num_perm < 1:
            raise ValueError(f"num_perm must be an int >= 1, got {num_perm!r}")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"seed must be an int, got {seed!r}")
        self.num_perm = num_perm
        self.seed = seed
        coeffs = np.empty((2, num_perm), dtype=np.uint64)
        for i in range(num_perm):
            d = hashlib.blake2b(f"spinemed-minhash:{seed}:{i}".encode(), digest_size=16).digest()
            coeffs[0, i] = int.from_bytes(d[:8], "little") | 1
            coeffs[1, i] = int.from_bytes(d[8:], "little")
        self._a = coeffs[0][:, None].copy()
        self._b = coeffs[1][:, None].copy()

    def signature(self, shingle_hashes: Iterable[int] | np.ndarray) -> np.ndarray:
        """uint32 array of length ``num_perm`` for a non-empty collection of shingle hashes.

        Values should be 32-bit (what ``shingles`` gives); wider values are xor-folded to 32
        bits.  Duplicates are harmless.
        """
        if isinstance(shingle_hashes, np.ndarray):
            x = shingle_hashes.ravel()
            if x.dtype.kind not in "iu":
                raise ValueError(f"shingle hashes must be integers, got dtype {x.dtype}")
            if x.dtype.kind == "i" and x.size and x.min() < 0:
                raise ValueError("shingle hashes must be non-negative")
            x = x.astype(np.uint64, copy=False)
        else:
            values = shingle_hashes if isinstance(shingle_hashes, (list, tuple)) else list(shingle_hashes)
            try:
                x = np.array(values, dtype=np.uint64)
            except (OverflowError, TypeError, ValueError) as e:
                raise ValueError(f"shingle hashes must be non-negative integers < 2**64: {e}") from None
        if x.size == 0:
            raise ValueError("cannot sign an empty shingle set")
        if x.dtype.itemsize == 8 and int(x.max()) >> 32:
            x = (x ^ (x >> np.uint64(32))) & np.uint64(0xFFFFFFFF)
        return self._sign(x)

    def _sign(self, x: np.ndarray) -> np.ndarray:
        """Signature of a non-empty 1-d array of 32-bit values (any unsigned dtype)."""
        mins = None
        for start in range(0, x.size, self._CHUNK):
            block = self._a * x[None, start : start + self._CHUNK]  # (num_perm, block) uint64, wraps
            block += self._b
            m = block.min(axis=1)
            mins = m if mins is None else np.minimum(mins, m, out=mins)
        return (mins >> np.uint64(32)).astype(np.uint32)

    def _sign_text(self, normalized: str, k: int) -> np.ndarray:
        # xxh32 values need no validation; shingle lists are never empty
        return self._sign(np.array(shingle_hashes(tokens_of(normalized), k), dtype=np.uint64))

    def signature_text(self, text: str, k: int = 3) -> np.ndarray:
        """Signature of ``shingles(text, k)``."""
        return self._sign_text(normalize_text(text), _check_k(k))


# --- LSH -----------------------------------------------------------------------------------


def _trapezoid(y: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Trapezoid rule along axis 1 on a uniform grid (np.trapezoid needs numpy >= 2)."""
    step = (hi - lo) / (y.shape[1] - 1)
    return step * (y.sum(axis=1) - 0.5 * (y[:, 0] + y[:, -1]))


def _false_positive_area(t: float, b: np.ndarray, r: np.ndarray, grid: int) -> np.ndarray:
    s = np.linspace(0.0, t, grid)[None, :]
    return _trapezoid(1.0 - (1.0 - s ** r[:, None]) ** b[:, None], 0.0, t)


def _false_negative_area(t: float, b: np.ndarray, r: np.ndarray, grid: int) -> np.ndarray:
    s = np.linspace(t, 1.0, grid)[None, :]
    return _trapezoid((1.0 - s ** r[:, None]) ** b[:, None], t, 1.0)


@lru_cache(maxsize=64)
def optimal_lsh_params(
    threshold: float, num_perm: int, weights: tuple[float, float] = (0.5, 0.5)
) -> tuple[int, int]:
    """(bands, rows) with ``bands * rows <= num_perm`` minimising the weighted areas under the
    false-positive (similarity < threshold) and false-negative (>= threshold) curves of
    ``P(candidate) = 1 - (1 - s**rows)**bands``; same objective as datasketch's ``_optimal_param``
    (trapezoid integration on a fine grid instead of ``scipy.integrate.quad``).
    """
    threshold = _check_threshold(threshold)
    if isinstance(num_perm, bool) or not isinstance(num_perm, int) or num_perm < 1:
        raise ValueError(f"num_perm must be an int >= 1, got {num_perm!r}")
    weights = _check_weights(weights)
    pairs = [(b, r) for b in range(1, num_perm + 1) for r in range(1, num_perm // b + 1)]
    b = np.array([p[0] for p in pairs], dtype=np.float64)
    r = np.array([p[1] for p in pairs], dtype=np.float64)
    error = weights[0] * _false_positive_area(threshold, b, r, 2001) + weights[1] * _false_negative_area(
        threshold, b, r, 2001
    )
    return pairs[int(np.argmin(error))]


def _fmix64(x: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser (in place): spreads every input bit over all output bits."""
    x ^= x >> np.uint64(33)
    x *= np.uint64(0xFF51AFD7ED558CCD)
    x ^= x >> np.uint64(33)
    x *= np.uint64(0xC4CEB9FE1A85EC53)
    x ^= x >> np.uint64(33)
    return x


class _LSHIndex:
    """Signatures in fixed-size numpy chunks plus an open-addressing band-bucket table.

    A band's key is fmix64 of a random linear form (mod 2**64) over its ``rows`` uint32 values,
    with different coefficients per band so equal values in two bands give unrelated keys.
    The bucket table is a linear-probing multimap in two ``array`` columns, a 4-byte
    fingerprint (high key bits, 0 = empty) and a 4-byte item index, kept under half full:
    16-32 bytes per (item, band) against ~92 for a dict with int keys (measured: 60 B of dict
    slot + a 32 B int).  It stores no full keys; when it fills up it is rebuilt at twice the
    size from the stored signatures, vectorised.  A fingerprint can match spuriously (2**-31 per
    probe), which only adds a candidate that verification rejects.  Chunked signature storage
    grows without the copy-and-double spikes of one big array.
    """

    _CHUNK_ROWS = 8192
    _MIN_CAPACITY = 1 << 12

    def __init__(self, num_perm: int, bands: int, rows: int, seed: int):
        self.num_perm, self.bands, self.rows = num_perm, bands, rows
        coeffs = np.frombuffer(
            b"".join(
                hashlib.blake2b(f"spinemed-lsh:{seed}:{i}".encode(), digest_size=8).digest()
                for i in range(bands * rows)
            ),
            dtype="<u8",
        )
        self._band_coeffs = (coeffs | np.uint64(1)).reshape(bands, rows).astype(np.uint64)
        self._chunks: list[np.ndarray] = []
        self._n = 0
        self._entries = 0
        self._fps = array("I", [0]) * self._MIN_CAPACITY
        self._vals = array("i", [0]) * self._MIN_CAPACITY
        self._mask = self._MIN_CAPACITY - 1

    def __len__(self) -> int:
        return self._n

    def _band_keys_many(self, sigs: np.ndarray) -> np.ndarray:
        """(n, bands) uint64 band keys for an (n, num_perm) signature block."""
        bands = sigs[:, : self.bands * self.rows].reshape(len(sigs), self.bands, self.rows)
        return _fmix64((bands.astype(np.uint64) * self._band_coeffs).sum(axis=2, dtype=np.uint64))

    def band_keys(self, sig: np.ndarray) -> list[int]:
        return self._band_keys_many(sig[None, :])[0].tolist()

    def candidates(self, keys: list[int]) -> list[int]:
        found: set[int] = set()
        fps, vals, mask = self._fps, self._vals, self._mask
        for key in keys:
            fp = (key >> 32) | 1
            slot = key & mask
            while (f := fps[slot]) != 0:
                if f == fp:
                    found.add(vals[slot])
                slot = (slot + 1) & mask
        return sorted(found)

    def signature(self, i: int) -> np.ndarray:
        return self._chunks[i // self._CHUNK_ROWS][i % self._CHUNK_ROWS]

    def best_match(self, sig: np.ndarray, keys: list[int]) -> tuple[int, float]:
        """(index, estimated Jaccard) of the most similar candidate (earliest on ties); (-1, 0.0)
        when no bucket is shared."""
        cands = self.candidates(keys)
        if not cands:
            return -1, 0.0
        stacked = np.stack([self.signature(i) for i in cands])
        sims = np.count_nonzero(stacked == sig, axis=1)
        j = int(np.argmax(sims))  # first maximum = smallest index, candidates are sorted
        return cands[j], float(sims[j]) / self.num_perm

    def _append_signatures(self, sigs: np.ndarray) -> None:
        pos = 0
        while pos < len(sigs):
            row = self._n % self._CHUNK_ROWS
            if row == 0:
                self._chunks.append(np.empty((self._CHUNK_ROWS, self.num_perm), dtype=np.uint32))
            take = min(self._CHUNK_ROWS - row, len(sigs) - pos)
            self._chunks[-1][row : row + take] = sigs[pos : pos + take]
            self._n += take
            pos += take

    def add(self, sig: np.ndarray, keys: list[int]) -> int:
        idx = self._n
        self._append_signatures(sig[None, :])
        self._entries += len(keys)
        if 2 * self._entries > self._mask + 1:
            self._rebuild()  # includes the new item
            return idx
        fps, vals, mask = self._fps, self._vals, self._mask
        for key in keys:
            slot = key & mask
            while fps[slot] != 0:
                slot = (slot + 1) & mask
            fps[slot] = (key >> 32) | 1
            vals[slot] = idx
        return idx

    def add_many(self, sigs: np.ndarray) -> None:
        """Index a block of signatures at once (used by ``Deduper.load``)."""
        self._append_signatures(sigs)
        self._entries += len(sigs) * self.bands
        self._rebuild()

    def _rebuild(self) -> None:
        """Rebuild the bucket table from all signatures, at the smallest power-of-two capacity
        above twice the entry count (so it is 1/4 to 1/2 full afterwards).

        Placed one band at a time, so the temporaries are ~20 bytes per item, not per entry.
        """
        capacity = max(self._MIN_CAPACITY, 1 << (2 * self._entries).bit_length())
        fps_arr, vals_arr = array("I", [0]) * capacity, array("i", [0]) * capacity
        fps, vals = np.frombuffer(fps_arr, dtype=np.uint32), np.frombuffer(vals_arr, dtype=np.int32)
        mask = np.uint64(capacity - 1)
        for band in range(self.bands):
            keys = np.empty(self._n, dtype=np.uint64)
            for c, chunk in enumerate(self._chunks):
                start = c * self._CHUNK_ROWS
                cols = slice(band * self.rows, (band + 1) * self.rows)
                rows = chunk[: min(self._CHUNK_ROWS, self._n - start), cols]
                keys[start : start + len(rows)] = (rows.astype(np.uint64) * self._band_coeffs[band]).sum(
                    axis=1, dtype=np.uint64
                )
            keys = _fmix64(keys)
            fp = ((keys >> np.uint64(32)) | np.uint64(1)).astype(np.uint32)
            slot = (keys & mask).astype(np.uint32 if capacity <= 1 << 32 else np.uint64)
            del keys
            pending = np.arange(self._n, dtype=np.int32)
            # Linear probing in rounds: every free target slot takes its first pending item and
            # the others move one slot on.  A slot is passed only while occupied and slots never
            # empty, so each entry stays reachable from its home slot.
            while pending.size:
                target = slot[pending]
                free = np.flatnonzero(fps[target] == 0)
                won_slots, first = np.unique(target[free], return_index=True)
                winners = pending[free[first]]
                fps[won_slots] = fp[winners]
                vals[won_slots] = winners
                keep = np.ones(pending.size, dtype=bool)
                keep[free[first]] = False
                pending = pending[keep]
                slot[pending] = (slot[pending] + 1) & (capacity - 1)
        del fps, vals  # release the buffer exports before the arrays are used
        self._fps, self._vals, self._mask = fps_arr, vals_arr, capacity - 1

    def all_signatures(self) -> np.ndarray:
        if not self._n:
            return np.empty((0, self.num_perm), dtype=np.uint32)
        return np.concatenate(self._chunks)[: self._n]

    def write_signatures(self, path: Path) -> None:
        """Write an (n, num_perm) uint32 .npy chunk by chunk, without a full in-memory copy."""
        out = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint32, shape=(self._n, self.num_perm))
        for c, chunk in enumerate(self._chunks):
            start = c * self._CHUNK_ROWS
            out[start : start + self._CHUNK_ROWS] = chunk[: min(self._CHUNK_ROWS, self._n - start)]
        out.flush()
        del out


# --- Deduper -------------------------------------------------------------------------------

Status = Literal["unique", "exact", "near"]


@dataclass(frozen=True, slots=True)
class DedupResult:
    """Outcome of ``Deduper.check``.

    ``duplicate_of`` is the key of the kept item (None when unique).  ``similarity`` is 1.0 for
    exact duplicates, the estimated Jaccard to the matched item for near duplicates, and for
    unique items the highest estimate among LSH candidates (0.0 when there were none).
    """

    status: Status
    duplicate_of: str | None
    similarity: float

    @property
    def is_duplicate(self) -> bool:
        return self.status != "unique"


class Deduper:
    """Streaming exact + near-duplicate filter; the first-seen item of each group is kept.

    ``weights`` (false positive, false negative) choose the LSH banding.  The default favours
    recall (0.1, 0.9) rather than datasketch's (0.5, 0.5): every candidate is verified against
    its stored signature, so a false positive costs one 128-value comparison, while a false
    negative is a duplicate (or a bench item) leaking into the release.  At threshold 0.8 and
    128 permutations this gives 14 bands x 9 rows: a pair with Jaccard 0.85 becomes a candidate
    with probability 0.975 (0.686 with 9 x 13).

    ``counts`` tallies every ``check`` (including ``add=False`` queries, which makes a loaded
    bench index report overlap directly); ``len()`` is the number of indexed (kept) items.
    """

    def __init__(
        self,
        threshold: float = 0.8,
        num_perm: int = 128,
        k: int = 3,
        seed: int = 1,
        *,
        weights: tuple[float, float] = (0.1, 0.9),
    ):
        self.threshold = _check_threshold(threshold)
        self.k = _check_k(k)
        self.weights = _check_weights(weights)
        self.hasher = MinHasher(num_perm, seed)
        self.num_perm, self.seed = num_perm, seed
        self.bands, self.rows = optimal_lsh_params(self.threshold, num_perm, self.weights)
        self._index = _LSHIndex(num_perm, self.bands, self.rows, seed)
        self._keys: list[str] = []
        self._exact: dict[int, int] = {}
        self._counts = {"unique": 0, "exact": 0, "near": 0}

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return (
            f"Deduper(threshold={self.threshold}, num_perm={self.num_perm}, k={self.k}, seed={self.seed}, "
            f"bands={self.bands}, rows={self.rows}, indexed={len(self)}, counts={self._counts})"
        )

    @property
    def counts(self) -> dict[str, int]:
        return dict(self._counts)

    def check(self, key: str, text: str, add: bool = True) -> DedupResult:
        """Classify ``text`` against the indexed items; index it under ``key`` if unique and ``add``."""
        if not isinstance(key, str):
            raise TypeError(f"key must be str, got {type(key).__name__}")
        if not isinstance(text, str):
            raise TypeError(f"text of item {key!r} must be str, got {type(text).__name__}")
        norm = normalize_text(text)
        exact_hash = xxhash.xxh3_64_intdigest(norm.encode("utf-8"))
        hit = self._exact.get(exact_hash)
        if hit is not None:
            self._counts["exact"] += 1
            return DedupResult("exact", self._keys[hit], 1.0)

        sig = self.hasher._sign_text(norm, self.k)
        band_keys = self._index.band_keys(sig)
        best, similarity = self._index.best_match(sig, band_keys)
        if best >= 0 and similarity >= self.threshold:
            self._counts["near"] += 1
            return DedupResult("near", self._keys[best], similarity)

        self._counts["unique"] += 1
        if add:
            idx = self._index.add(sig, band_keys)
            self._keys.append(key)
            self._exact[exact_hash] = idx
        return DedupResult("unique", None, similarity)

    # --- persistence -------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write the index to directory ``path``: dedup.json (params, counts), keys.json,
        signatures.npy (n x num_perm uint32), exact_hashes.npy (n uint64).  Band buckets are
        rebuilt on load, so the format does not depend on the in-memory layout."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        exact = np.empty(len(self), dtype=np.uint64)
        for h, i in self._exact.items():
            exact[i] = h
        self._index.write_signatures(path / "signatures.npy")
        np.save(path / "exact_hashes.npy", exact, allow_pickle=False)
        (path / "keys.json").write_text(json.dumps(self._keys, ensure_ascii=False), encoding="utf-8")
        params = {
            "format": FORMAT,
            "hash_scheme": HASH_SCHEME,
            "threshold": self.threshold,
            "num_perm": self.num_perm,
            "k": self.k,
            "seed": self.seed,
            "weights": list(self.weights),
            "bands": self.bands,
            "rows": self.rows,
            "size": len(self),
            "counts": self._counts,
        }
        (path / "dedup.json").write_text(json.dumps(params, indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path, threshold: float | None = None) -> Deduper:
        """Load a saved index; ``threshold`` overrides the saved one (banding is re-derived)."""
        path = Path(path)
        meta_file = path / "dedup.json"
        if not meta_file.is_file():
            raise FileNotFoundError(f"{meta_file} not found: not a saved Deduper index")
        try:
            params = json.loads(meta_file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise ValueError(f"{meta_file}: invalid JSON ({e})") from None
        required = ("format", "hash_scheme", "threshold", "num_perm", "k", "seed", "weights", "size", "counts")
        for field in required:
            if field not in params:
                raise ValueError(f"{meta_file}: missing field {field!r}")
        if params["format"] != FORMAT:
            raise ValueError(f"{meta_file}: format {params['format']!r}, expected {FORMAT!r}")
        if params["hash_scheme"] != HASH_SCHEME:
            raise ValueError(
                f"{meta_file}: built with hash scheme {params['hash_scheme']!r}, this version uses "
                f"{HASH_SCHEME!r}; rebuild the index"
            )
        dd = cls(
            params["threshold"] if threshold is None else threshold,
            params["num_perm"],
            params["k"],
            params["seed"],
            weights=tuple(params["weights"]),
        )
        n = params["size"]
        sigs = np.load(path / "signatures.npy", mmap_mode="r", allow_pickle=False)  # copied into chunks
        if sigs.dtype != np.uint32 or sigs.shape != (n, dd.num_perm):
            raise ValueError(
                f"{path / 'signatures.npy'}: expected uint32 array of shape ({n}, {dd.num_perm}), "
                f"got {sigs.dtype} {sigs.shape}"
            )
        exact = np.load(path / "exact_hashes.npy", allow_pickle=False)
        if exact.dtype != np.uint64 or exact.shape != (n,):
            raise ValueError(
                f"{path / 'exact_hashes.npy'}: expected uint64 array of shape ({n},), "
                f"got {exact.dtype} {exact.shape}"
            )
        keys = json.loads((path / "keys.json").read_text(encoding="utf-8"))
        if not isinstance(keys, list) or len(keys) != n or not all(isinstance(x, str) for x in keys):
            raise ValueError(f"{path / 'keys.json'}: expected a list of {n} strings")
        dd._index.add_many(sigs)
        dd._keys = keys
        dd._exact = dict(zip(exact.tolist(), range(n)))
        dd._counts = {name: int(params["counts"].get(name, 0)) for name in ("unique", "exact", "near")}
        return dd


def near_duplicate_pairs(
    texts: Mapping[str, str],
    threshold: float = 0.8,
    *,
    num_perm: int = 128,
    k: int = 3,
    seed: int = 1,
    weights: tuple[float, float] = (0.1, 0.9),
) -> list[tuple[str, str, float]]:
    """All pairs ``(earlier_key, later_key, estimated_jaccard)`` with estimate >= threshold, in
    input order.  Exact duplicates appear with 1.0.  Unlike ``Deduper`` every item is indexed,
    so chains (a~b, b~c) are all reported; meant for reports on modest sets."""
    threshold = _check_threshold(threshold)
    _check_k(k)
    hasher = MinHasher(num_perm, seed)
    bands, rows = optimal_lsh_params(threshold, num_perm, _check_weights(weights))
    index = _LSHIndex(num_perm, bands, rows, seed)
    names: list[str] = []
    pairs: list[tuple[str, str, float]] = []
    for key, text in texts.items():
        if not isinstance(text, str):
            raise TypeError(f"text of item {key!r} must be str, got {type(text).__name__}")
        sig = hasher._sign_text(normalize_text(text), k)
        band_keys = index.band_keys(sig)
        cands = index.candidates(band_keys)
        if cands:
            sims = np.count_nonzero(np.stack([index.signature(i) for i in cands]) == sig, axis=1) / num_perm
            pairs.extend((names[i], key, float(s)) for i, s in zip(cands, sims.tolist()) if s >= threshold)
        index.add(sig, band_keys)
        names.append(key)
    return pairs


# --------------------------------------------------------------------------------------
# The build's dedup step
# --------------------------------------------------------------------------------------


def dedup_text(rec: SourceRecord) -> str:
    """What two records must share to count as duplicates."""
    if rec.kind == "figure":
        # the image itself is part of the identity: one caption over two different pictures
        # is two figures
        img = rec.images[0] if rec.images else None
        ident = hashlib.sha256(img.data).hexdigest()[:16] if img is not None and img.data else (img.path if img else "")
        return " ".join([ident, img.caption if img else "", *rec.context])
    if rec.kind == "mcq":
        opts = rec.fields.get("options") or {}
        opts_text = " ".join(str(v) for _, v in sorted(opts.items())) if isinstance(opts, dict) else str(opts)
        return f"{rec.fields.get('question', '')} {opts_text}"
    if rec.kind in ("case", "volume"):
        return "\n".join([rec.text, json.dumps(rec.fields, ensure_ascii=False, sort_keys=True, default=str)])
    return rec.text


class Deduplicate(PipelineStep):
    """Removes exact and near duplicates, in record order, so the first occurrence is the one
    kept (the removed ones go to the duplicates work file, not the quarantine)."""

    name = "dedup"

    def __init__(self, deduper: Deduper):
        super().__init__()
        self.deduper = deduper

    async def process(self, window: Window) -> Window:
        kept = []
        for doc in window:
            res = self.deduper.check(doc.record.record_id, dedup_text(doc.record))
            if res.status != "unique":
                self.quarantine.duplicate(doc.record, res)
                continue
            kept.append(doc)
        return kept
