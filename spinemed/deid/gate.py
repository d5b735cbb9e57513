"""The publish gate: an independent check of everything a release folder would put on the Hub.

The scrubber's own detector would share every blind spot of the scrubber, so the gate layers
detectors written differently from it and runs all of them over every string of every row, the
card, the manifest, image metadata and provenance:

* ``scrubber``  the scrubber's detector in the row's mode (layered, not trusted alone);
* ``names``     a dictionary pass: a census given name followed by a capitalised surname-shaped
                token ("Henrietta Vossberg"), "Surname, Given", and Chinese surname + common
                given-name characters that jieba's dictionary does not know as a word;
* ``format``    identifier formats by their own regular expressions (emails, phones, national
                and resident ids, day-precision dates, long digit runs, URLs and IPs);
* ``image``     metadata blocks inside published image bytes (EXIF, XMP, PNG text, JPEG COM);
* ``provenance`` absolute or user paths, and file/case ids that are not opaque or public ids.

A finding is reported with its place (config, row id, column), kind, detector and a masked
context (the value itself replaced by its kind), never the value.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..text import CJK_UNIFIED
from . import vocab
from .cues import _PLACEHOLDER_RE, DEFAULT_ALLOWED_URL_HOSTS
from .images import metadata_report, metadata_text
from .records import mode_for
from .scrubber import _DEFAULTS
from .zh import _COMPOUND_SURNAMES, _SURNAME_SET, _ZH_SAFE, _jieba

# Our own ids and hashes: content hashes, opaque provenance ids, row ids.
_OWN_ID = re.compile(r"^(?:[a-z_]+-)?[0-9a-f]{8,64}$")
_OPAQUE_OR_PUBLIC = re.compile(
    r"^(?:(?:src|case|study|series|file|subject|img)-[0-9a-f]{8,64}(?:[#/:].*)?"
    r"|10\.\d{4,9}/\S+|PMC\d+|PMID:?\d+|doi:\S+|ISBN[-:\s]?[\dX-]+|[A-Za-z][\w.\-]*(?:dataset|data)?[\w.\-]*)$"
)
_USER_PATH = re.compile(r"(?:^|[\s\"'(=])(?:/home/|/Users/|/root/|/tmp/|/var/|/mnt/|/data/|[A-Za-z]:\\\\|~/)")

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(r"\b(?:https?://|www\.)([^\s/<>\"'，。）)]+)")
_IPV4 = re.compile(r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\d.])")
_PHONE = re.compile(r"(?<![\w.])(?:\+\d{1,3}[ \-.]?)?(?:\(\d{2,4}\)[ \-.]?)?\d{3,4}[ \-.]\d{3,4}(?:[ \-.]\d{3,4})?(?![\w.])")
_CN_MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
_CN_RESIDENT_ID = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")
_SSN = re.compile(r"(?<!\d)\d{3}-\d{2}-\d{4}(?!\d)")
_LONG_DIGITS = re.compile(r"(?<![\w.,^])\d{7,}(?![\d.,])")
_DAY_DATE = re.compile(
    r"(?<![\d.])(?:(?:19|20)\d\d[-/.](?:0?[1-9]|1[0-2])[-/.](?:0?[1-9]|[12]\d|3[01])"
    r"|(?:0?[1-9]|[12]\d|3[01])[-/.](?:0?[1-9]|1[0-2])[-/.](?:19|20)\d\d"
    r"|(?:0?[1-9]|1[0-2])/(?:0?[1-9]|[12]\d|3[01])/(?:19|20)?\d\d"
    r"|(?:19|20)\d\d年\d{1,2}月\d{1,2}[日号])(?![\d.])"
    r"|\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+(?:19|20)\d\d\b"
    r"|\b\d{1,2}(?:st|nd|rd|th)?\s+(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?,?\s+(?:19|20)\d\d\b"
)
_CAP = r"[A-ZÀ-Þ][a-zß-ÿ]+(?:[-'’][A-Za-zÀ-ÿ][a-zß-ÿ]+)?"
_GIVEN_SURNAME = re.compile(rf"\b({_CAP})[ \t]+(?:[A-Z]\.[ \t]*)?((?:(?:van|von|de|der|den|da|di|du|la|le|bin|al|el)[ \t]+)*{_CAP})\b")
_SURNAME_GIVEN = re.compile(rf"\b({_CAP}),[ \t]+({_CAP})\b")
# The most common characters of Chinese given names (from naming convention, not a corpus of this kit).
_ZH_GIVEN_CHARS = frozenset(
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华玉萍红鹏辉建国志文斌宇浩凯健俊帆帅旭宁龙林欣佳雪婷慧颖琳晶倩"
    "云莉蓉燕玲丹璐瑶怡晨阳鑫博宏波成海峰亮雷永飞彬东春梅凤琴晓雨梦思嘉子涵轩泽豪诚信达毅锋昊天翔瑞祥福生荣发顺安德"
    "秋月菊莲珍美婉淑贞惠芬素琼碧霜蕾薇岚颜娇媛妍蓓珊茜冰清琪瑾瑜璇然睿哲铭钰锦卓远航逸飞冬梓萱晗钧韬"
)


@dataclass
class GateFinding:
    where: str  # "config/row_id/column" or a file name
    kind: str
    detector: str
    context: str  # masked: the value replaced by [KIND]

    def line(self) -> str:
        return f"{self.where}: {self.kind} ({self.detector}) …{self.context}…"


@dataclass
class GateReport:
    folder: str
    findings: list[GateFinding] = field(default_factory=list)
    scanned: Counter = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return not self.findings

    def summary(self, limit: int = 20) -> str:
        kinds = Counter((f.kind, f.detector) for f in self.findings)
        head = (f"publish gate: {len(self.findings)} finding(s) in {self.folder} "
                f"({', '.join(f'{k}/{d}: {n}' for (k, d), n in sorted(kinds.items()))}); scanned "
                + ", ".join(f"{n:,} {what}" for what, n in sorted(self.scanned.items())))
        lines = [head] + [f"  {f.line()}" for f in self.findings[:limit]]
        if len(self.findings) > limit:
            lines.append(f"  … and {len(self.findings) - limit} more")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {"findings": len(self.findings),
                "by_kind": dict(Counter(f.kind for f in self.findings)),
                "scanned": dict(self.scanned)}


def _masked(text: str, start: int, end: int, kind: str, width: int = 30) -> str:
    left = _PLACEHOLDER_RE.sub(lambda m: m.group(), text[max(0, start - width): start])
    right = text[end: end + width]
    return (left + f"[{kind}]" + right).replace("\n", " ")


def _jieba_freq():
    return _jieba()[0].FREQ


def _allowed_host(host: str) -> bool:
    host = host.lower().split(":")[0].split("@")[-1]
    return any(host == h or host.endswith("." + h) for h in DEFAULT_ALLOWED_URL_HOSTS)


def _format_hits(text: str) -> Iterator[tuple[int, int, str]]:
    for regex, kind in ((_EMAIL, "EMAIL"), (_SSN, "ID"), (_CN_RESIDENT_ID, "ID"), (_CN_MOBILE, "PHONE"),
                        (_IPV4, "IP"), (_DAY_DATE, "DATE"), (_LONG_DIGITS, "ID")):
        for m in regex.finditer(text):
            yield m.start(), m.end(), kind
    for m in _PHONE.finditer(text):
        if sum(c.isdigit() for c in m.group()) >= 10:
            yield m.start(), m.end(), "PHONE"
    for m in _URL.finditer(text):
        if not _allowed_host(m.group(1)):
            yield m.start(), m.end(), "URL"


def _name_hits(text: str, literature: bool) -> Iterator[tuple[int, int, str]]:
    if not literature:
        given, surnames, words = vocab.given_names(), vocab.surnames(), vocab.en_words()
        safe, cond = vocab.clinical()
        for regex, gi, si in ((_GIVEN_SURNAME, 1, 2), (_SURNAME_GIVEN, 2, 1)):
            for m in regex.finditer(text):
                g, s = m.group(gi), m.group(si).split()[-1]
                gl, sl = g.lower(), s.lower()
                if gl not in given or gl in safe or sl in safe or sl in cond:
                    continue
                if sl in words and sl not in surnames:
                    continue  # "Grace period", "Will power": a given name before an ordinary word
                if re.match(r"[ \t]+(?:et\.?[ \t]+al|\(\d{4}\))", text[m.end(): m.end() + 12]):
                    continue  # a citation
                yield m.start(), m.end(), "NAME"
    if re.search(f"[{CJK_UNIFIED}]", text):
        freq = _jieba_freq()
        for i, ch in enumerate(text):
            sl = 2 if text[i: i + 2] in _COMPOUND_SURNAMES else 1 if ch in _SURNAME_SET else 0
            if not sl:
                continue
            given = text[i + sl: i + sl + 2]
            n = 2 if len(given) == 2 and all(c in _ZH_GIVEN_CHARS for c in given) else (
                1 if given[:1] and given[0] in _ZH_GIVEN_CHARS else 0)
            if not n:
                continue
            word = text[i: i + sl + n]
            if word in _ZH_SAFE or (freq.get(word) or 0) >= 5 or (freq.get(text[i: i + sl + 2]) or 0) >= 50:
                continue  # a dictionary word ("王国", "明显"), not a name
            if i > 0 and (freq.get(text[i - 1: i + 1]) or 0) >= 50:
                continue  # the surname character ends a word ("进展", "手术时")
            if sl == 1 and n == 1 and not re.match(r"[，,。；（(、\s]|$|[男女]|术|诉|医|护", text[i + 2: i + 3]):
                continue  # a two-character name needs a clear boundary after it
            yield i, i + sl + n, "NAME"


# Public reference ids and the kit's own opaque ids inside a longer string ("case case-dcf5…",
# "ISBN 978-7-117-…", "PMC0000101_f1.jpg"): blanked (same length) before the detectors run.
_KNOWN_SAFE_TOKENS = re.compile(
    r"\b[a-z]{2,12}-(?=[0-9a-f]*\d)[0-9a-f]{8,64}\b|\bISBN[\s:-]*[\dX][\dX\s-]{8,20}[\dX]"
    r"|\bPMC\d+|\bPMID:?\s*\d+|\b10\.\d{4,9}/[^\s\"<>]+|\bNCT\d{8}\b"
)


def scan_text(text: str, *, mode: str = "clinical", where: str = "") -> list[GateFinding]:
    """Every detector over one string (placeholders excepted)."""
    if not text or _OWN_ID.match(text):
        return []
    text = _KNOWN_SAFE_TOKENS.sub(lambda m: " " * len(m.group()), text)
    hits: dict[tuple[int, int], tuple[str, str]] = {}
    for f in _DEFAULTS[mode].find(text):
        hits[(f.start, f.end)] = (f.kind, "scrubber")
    for s, e, kind in _format_hits(text):
        hits.setdefault((s, e), (kind, "format"))
    for s, e, kind in _name_hits(text, mode == "literature"):
        hits.setdefault((s, e), (kind, "names"))
    for m in _USER_PATH.finditer(text):
        hits.setdefault((m.start(), m.end()), ("PATH", "provenance"))
    placeholders = [m.span() for m in _PLACEHOLDER_RE.finditer(text)]
    kept = sorted((s, e, kind, det) for (s, e), (kind, det) in hits.items()
                  if not any(ps <= s and e <= pe for ps, pe in placeholders))
    if not kept:
        return []
    # Every hit masked in every context: a report must not echo one identifier beside another.
    masked, last, offsets = [], 0, []
    for s, e, kind, _ in sorted(kept):
        if s < last:
            continue
        masked.append(text[last:s])
        offsets.append((s, sum(map(len, masked))))
        masked.append(f"[{kind}]")
        last = e
    masked.append(text[last:])
    flat = "".join(masked)
    pos = dict(offsets)
    out = []
    for s, _e, kind, detector in kept:
        at = pos.get(s)
        if at is None:  # overlapped by an earlier hit: its context is that hit's
            at = max((p for q, p in offsets if q <= s), default=0)
        out.append(GateFinding(where, kind, detector, flat[max(0, at - 30): at + len(kind) + 32].replace("\n", " ")))
    return out


_DOC_KINDS = ("EMAIL", "PHONE", "URL", "IP")


def scan_document(text: str, *, where: str) -> list[GateFinding]:
    """The card and the manifest: the kit's own text plus counts and hashes, so the number and
    date detectors would only see statistics; names, contacts, URLs and user paths are checked."""
    out = []
    for s, e, kind in _format_hits(text):
        if kind in _DOC_KINDS:
            out.append(GateFinding(where, kind, "format", _masked(text, s, e, kind)))
    for s, e, kind in _name_hits(text, literature=False):
        if not _CITATION.match(text, e):
            out.append(GateFinding(where, kind, "names", _masked(text, s, e, kind)))
    return out


_CITATION = re.compile(r"[ \t]*(?:,?[ \t]*et\.?[ \t]+al|\(\d{4}\)|,[ \t]*\d{4})")


def _walk(value: Any, where: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        if "bytes" in value and isinstance(value.get("bytes"), (bytes, bytearray)):
            yield where, value  # a datasets.Image cell
            return
        for k, v in value.items():
            yield from _walk(v, f"{where}.{k}" if where else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, f"{where}[{i}]")
    else:
        yield where, value


def _check_provenance(prov: dict[str, Any], where: str) -> Iterator[GateFinding]:
    for key in ("source_file", "source_id", "locator"):
        value = prov.get(key)
        if not isinstance(value, str) or not value:
            continue
        if _USER_PATH.search(value) or value.startswith("/"):
            yield GateFinding(f"{where}.provenance.{key}", "PATH", "provenance", "[an absolute or user path]")
        elif key == "source_file" and not _OPAQUE_OR_PUBLIC.match(value.split("#")[0]) and "/" in value:
            yield GateFinding(f"{where}.provenance.{key}", "PATH", "provenance", "[a file path, not an opaque id]")


def _check_image(cell: dict[str, Any], where: str, mode: str) -> Iterator[GateFinding]:
    data = bytes(cell["bytes"])
    try:
        blocks = metadata_report(data)
    except ValueError as exc:
        yield GateFinding(where, "IMAGE", "image", f"[undecodable image: {exc}]")
        return
    if blocks:
        yield GateFinding(where, "IMAGE_METADATA", "image", "[" + ", ".join(blocks)[:120] + "]")
    for text in metadata_text(data):
        yield from scan_text(text, mode=mode, where=where + ".metadata")
    path = cell.get("path")
    if isinstance(path, str) and path:
        yield from scan_text(path, mode="clinical", where=where + ".path")


def scan_folder(folder: str | Path, *, limit: int | None = None, batch_size: int = 64) -> GateReport:
    """Run the gate over a dataset folder: every row of every shard, the card and the manifest."""
    import pyarrow.parquet as pq

    folder = Path(folder)
    report = GateReport(str(folder.name))
    for name in ("README.md", "manifest.json"):
        path = folder / name
        if path.exists():
            text = path.read_text("utf-8", errors="replace")
            report.scanned["files"] += 1
            if name == "manifest.json":
                try:
                    strings = [(w, v) for w, v in _walk(json.loads(text), "") if isinstance(v, str)]
                except json.JSONDecodeError:
                    strings = [("", text)]
                for w, v in strings:
                    if _USER_PATH.search(v) or v.startswith("/"):
                        report.findings.append(GateFinding(f"{name}:{w}", "PATH", "provenance", "[an absolute or user path]"))
                    if w.endswith(("sha256", "hash", "content_hash")) or re.search(r"(?:^|\.)path$", w):
                        continue
                    report.findings += scan_document(v, where=f"{name}:{w}")
            else:
                report.findings += scan_document(text, where=name)
    for shard in sorted((folder / "data").rglob("*.parquet")):
        config = shard.parent.name
        for batch in pq.ParquetFile(shard).iter_batches(batch_size=batch_size):
            for row in batch.to_pylist():
                report.scanned["rows"] += 1
                row_id = str(row.get("id", ""))
                prov = row.get("provenance") or {}
                mode = mode_for(prov.get("source_type", "") if isinstance(prov, dict) else "")
                base = f"{config}/{row_id}"
                if isinstance(prov, dict):
                    report.findings += list(_check_provenance(prov, base))
                for where, value in _walk(row, ""):
                    if isinstance(value, dict):
                        report.scanned["images"] += 1
                        report.findings += list(_check_image(value, f"{base}/{where}", mode))
                    elif isinstance(value, str) and value:
                        report.scanned["strings"] += 1
                        col = where.split(".")[-1].split("[")[0]
                        if col in ("id", "record_id") or col.endswith("hash"):
                            continue
                        report.findings += scan_text(value, mode=mode, where=f"{base}/{where}")
                if limit is not None and len(report.findings) >= limit:
                    return report
    return report


__all__ = ["GateFinding", "GateReport", "scan_folder", "scan_text"]
