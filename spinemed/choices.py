"""Answer-letter extraction from free-text model output (English + Chinese).

SpineBench scores multiple-choice items from whatever a model writes, so this module decides
which option letter(s) an output *commits to* and never guesses.  Outcomes
(``ChoiceResult.status``):

* ``answered``: one letter, or several as a sorted string (``"AC"``);
* ``refused``: no committed answer and a refusal ("I cannot provide medical advice",
  "无法确定", "需要更多信息");
* ``empty``: nothing but whitespace (after the last ``</think>``, if any);
* ``unparsed``: anything else, e.g. hedges that list candidates ("It could be A or B").

How a letter is found, strongest first:

1. ``\\boxed{B}`` and ``<answer>B</answer>``;
2. explicit answer declarations: "The answer is B", "Answer: b", "B is the correct answer",
   "I choose B", "Therefore, B.", 答案是/答案：/答案为/正确答案为/故选/本题选/应选 B,
   "B为正确答案";
3. weaker commitments: "B is correct", "most likely B", "it is B", "not A but B",
   选项B正确, "B项正确", 应该是B, 而是B.

4. per-option verdict lines: "A. Incorrect / B. Correct / C. Correct" (one line each).

Among (1) the last one wins.  Otherwise the last declaration (2) wins, and a later (3)
overrides it only after a correction cue ("wait", "actually", 不对, 更正 ...), so
"The answer is A. Wait, actually C is correct." gives C while "Answer: B. Explanation: A is
correct only in children" keeps B.  Without (1) and (2), every option judged correct by (4)
is the answer; otherwise the (3) matches must agree unless a correction cue separates
them ("A is correct for X, B is correct for Y" is unparsed).  A match is dropped when it is a hedge (followed by
"or X", "/X", 或/还是 X), negated right before ("not", 不是, 不选 ...) or sits in a
conditional clause ("if", "whether", "unless" ...).

Only when nothing commits, in this order: an output that is just a letter or letter list
("B", "B.", "(B)", "B)", "Option B", "**B**", "A, C", "AC") answers; an output that starts
with a letter followed by option text ("B. Lumbar disc herniation") answers unless it marks
another letter; a refusal cue gives ``refused``; marked mentions ("(B)", "Option B",
"选项B", "**B**") answer if exactly one letter is marked without negation; with
``option_texts``, an output that quotes exactly one option's text answers (a quote that is
part of a longer matching option's text does not count; texts under 4 characters, or 2 CJK
characters, are never matched).  An output that merely repeats the option list
(one "A. ..." line per option) answers only through an explicit commitment.

A letter must stand alone: not inside a word or abbreviation (CT, ACDF, DISH, MRI), not
glued to a digit or hyphen (HLA-B27, T2, S1, C-reactive), not after a grading word
(ASIA grade C, Frankel D, Type A, Modic, vitamin, hepatitis ...).  Lowercase letters count
only as the whole output or after an explicit cue, before punctuation or the end
("answer: b", but not "the answer is a disc herniation"); a capital "A" followed by a
lowercase word is the article ("Answer: A lumbar MRI is needed").  Letters outside ``options`` are not letters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["STATUSES", "ChoiceResult", "extract_choice", "extract_choice_detailed"]

STATUSES = ("answered", "refused", "empty", "unparsed")


@dataclass(frozen=True)
class ChoiceResult:
    """What an output commits to.

    ``answer`` is the sorted letter string or None; ``status`` is one of ``STATUSES``;
    ``evidence`` is the span of the output that decided it ("" when nothing did).
    """

    answer: str | None
    status: str
    evidence: str = ""


# --- normalisation (length-preserving, so match offsets index the original text) ---------
_TRANSLATE = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}  # full-width ASCII -> ASCII
_TRANSLATE.update({0x3000: " ", 0x00A0: " ", 0x200B: " ", 0x3010: "[", 0x3011: "]", 0x2019: "'"})
_TRANSLATE.update({0x300C: "[", 0x300D: "]", 0xFE55: ":"})
_EMPHASIS = str.maketrans({"*": " ", "`": " ", "_": " ", "$": " "})  # markdown / inline math

# Non-answer letters: acronyms that consist of option letters only.
_BLOCKED_CONCAT = frozenset({"ACDF", "ACAF", "ADCF"})

# Words after which a capital letter is a grade/type/class, not an option.
_GRADING_BEFORE = re.compile(
    r"\b(?:grades?|types?|class(?:es)?|stages?|frankel|asia|ais|ao|modic|pfirrmann|meyerding|group|vitamin"
    r"|hepatitis|zone|category|tier|schatzker|gustilo|denis|mallampati|score|phase|hla|factor|protein"
    r"|pattern|subtype|level|lesion|cohort|patient|strain|influenza)[ \t]*[-:]?[ \t]*$"
    r"|(?:分级|分型|分类|级|型|类)[ \t]*$",
    re.IGNORECASE,
)
_NEAR_VETO = re.compile(
    r"(?:\b(?:not|never|n't|nor|exclude|excluding|rule\s+out|ruled\s+out|eliminate|eliminating|against"
    r"|instead\s+of|rather\s+than)\s+"
    r"(?:(?:the|option|choice|choose|select|pick)\s+)?|不是|不选|不应选|不能选|并非|而非|排除|除了)\s*$",
    re.IGNORECASE,
)
_CLAUSE_VETO = re.compile(
    r"(?:\b(?:whether|if|unless|suppose|supposing|assuming|assume)\b|是否|如果|假如|若)"
    r"[^.;:!?,\n。；：！？，]*$",
    re.IGNORECASE,
)
_NEGATED_AFTER = re.compile(
    r"\s*(?:项|选项)?\s*(?:(?:is|are|was|would\s+be|seems|appears)\s+)?(?:also\s+|definitely\s+|clearly\s+)?"
    r"(?:not\b|incorrect|wrong|false|unlikely|excluded|ruled\s+out|inappropriate"
    r"|错误|不正确|不对|错|排除|不符合|不是|不选)",
    re.IGNORECASE,
)
_HEDGE_AFTER = re.compile(
    r"\s*(?:,\s*)?(?:\bor\b|或者?|还是|/)\s*(?:\boption\s+|选项)?[(\[]?\s*[A-Za-z](?![A-Za-z0-9])", re.IGNORECASE
)
_HEDGE_BEFORE = re.compile(
    r"(?<![A-Za-z])[A-Za-z]\s*[)\]]?\s*(?:,\s*)?(?:\bor|或者?|还是|/)\s*(?:\boption\s+|选项)?[(\[]?\s*$", re.IGNORECASE
)
# "A" followed by a lowercase word is the article ("Answer: A lumbar MRI is needed").
_ARTICLE_AFTER = re.compile(
    r"\s+(?!(?:because|since|as|which|and|but|for|given|here|now|is|was|would|seems|appears|fits|best)\b)[a-z]{2,}"
)
_SINGULAR_PREDICATE = re.compile(r"\s+(?:is|was|seems|has|does)\b", re.IGNORECASE)
_CORRECTION = re.compile(
    r"\b(?:wait|actually|correction|on\s+second\s+thought|i\s+mean|sorry|reconsider(?:ing)?|re-?evaluat\w*"
    r"|mistake|instead|let\s+me\s+re\w*)\b|更正|纠正|不对|实际上|其实|重新考虑|修正|改为|等等",
    re.IGNORECASE,
)
_REFUSAL = re.compile(
    r"\bI\s*(?:am|'m)\s+(?:not\s+able|unable)\s+to\b"
    r"|\bI\s+(?:cannot|can\s*not|can't|won't|will\s+not|must\s+decline\s+to)\s+"
    r"(?:provide|give|offer|answer|determine|choose|select|pick|make|help|diagnose|recommend|be\s+certain|say)"
    r"|\b(?:cannot|can't|unable\s+to|impossible\s+to)\s+(?:be\s+)?determined?\b"
    r"|\bnot\s+(?:possible|able)\s+to\s+(?:determine|answer|tell|say)"
    r"|\b(?:insufficient|not\s+enough)\s+(?:clinical\s+)?(?:information|details|context|data)\b"
    r"|\b(?:need|needs|require|requires|without)\s+(?:more|additional|further)\s+(?:clinical\s+)?"
    r"(?:information|details|context|data)\b"
    r"|\b(?:please\s+)?(?:consult|see|speak\s+(?:to|with))\s+(?:a|your)\s+(?:doctor|physician|healthcare|specialist)"
    r"|无法(?:确定|判断|回答|提供|给出|选择|作答|确认|诊断)|不能(?:确定|判断|回答|提供|给出|诊断)"
    r"|需要更多(?:的)?(?:信息|资料|检查|临床)|信息不足|资料不足|抱歉|建议(?:咨询|就医)|请(?:咨询|就医)",
    re.IGNORECASE,
)
_THINK_END = "</think>"
_CLOSERS = re.compile(r"(?:[ \t]*[)\]}])*(?:[ \t]*</answer>)?")

# Tier of a commitment pattern (see module docstring).
_TAGGED, _DECLARED, _WEAK, _VERDICT = 0, 1, 2, 3


@dataclass(frozen=True)
class _Patterns:
    options: str
    commits: tuple[tuple[int, re.Pattern[str]], ...]
    bare: re.Pattern[str]
    leading: re.Pattern[str]
    echo_line: re.Pattern[str]
    mention: re.Pattern[str]
    emphasis: re.Pattern[str]


@lru_cache(maxsize=64)
def _patterns(options: str) -> _Patterns:
    up, low, n = options, options.lower(), len(options)
    stand_alone_before = r"(?<![A-Za-z0-9\-'])"
    stand_alone_after = r"(?![A-Za-z0-9]|[-'][A-Za-z0-9])"
    # Everything is compiled case-insensitive; (?-i:...) keeps the letter classes exact.
    cap = rf"(?-i:[{up}])"
    upper = rf"{stand_alone_before}{cap}{stand_alone_after}"
    lower = rf"{stand_alone_before}(?-i:[{low}]){stand_alone_after}(?=\s*(?:[.)\]}}:;,!?。，；：、]|$))"
    concat = rf"{stand_alone_before}(?-i:[{up}]{{2,{n}}}){stand_alone_after}" if n > 1 else r"(?!x)x"
    sep = r"(?:\s*(?:,|;|、|&|\+|和|与|及|以及)\s*(?:and\s+)?|\s+and\s+)"
    more = rf"(?:[)\]]?{sep}[(\[]?{upper})*"  # "A and C", "A、C", "(A), (C)"
    group = rf"(?P<g>{concat}|{upper}{more}|{lower}(?:\s*[,、]\s*{lower})*)"
    group_upper = rf"(?P<g>{concat}|{upper}{more})"
    pre = r"(?:(?:option|choice|letter)\s*|选项\s*)?[(\[{]?\s*"
    filler = (
        r"(?:(?:(?:most\s+)?likely|probably|clearly|definitely|actually|indeed|therefore|thus|now|still"
        r"|obviously)\s*[:,]?\s*)?"
    )
    declared_verbs = r"(?:is|are|would\s+be|should\s+be|will\s+be|must\s+be|=|:|-)"
    flags = re.IGNORECASE
    commits = [
        (_TAGGED, rf"\\boxed\s*\{{\s*(?:\\(?:text|textbf|mathrm|mathbf)\s*\{{\s*)?{pre}{group}"),
        (_TAGGED, rf"<answer>\s*{pre}{group}"),
        (_DECLARED, rf"\banswers?\b\s*(?:{declared_verbs}\s*)?[:\-]?\s*{filler}{pre}{group}"),
        (
            _DECLARED,
            rf"\b(?:correct|right|best|most\s+appropriate|most\s+likely|true|final)\s+"
            rf"(?:option|choice|response|letter|answer)\s*{declared_verbs}?\s*:?\s*{filler}{pre}{group}",
        ),
        (
            _DECLARED,
            rf"\b(?:I\s+(?:would\s+|will\s+|'d\s+|'ll\s+)?(?:choose|select|pick|go\s+with)|(?:choose|select|pick)"
            rf"|my\s+(?:final\s+)?(?:answer|choice|selection)\s+(?:is|would\s+be)|go\s+with)\s*:?\s*{pre}{group}",
        ),
        (
            _DECLARED,
            rf"{pre}{group_upper}\s*[)\]]?\s+(?:is|are|would\s+be)\s+(?:the\s+)?(?:(?:correct|right|best|final"
            rf"|most\s+appropriate)\s+(?:answers?|option|choice|response)|answers?\b)",
        ),
        (_DECLARED, rf"\b(?:therefore|thus|hence|so)\s*,?\s*{pre}{group_upper}[)\]]?(?=\s*(?:[.。!]|$))"),
        (_DECLARED, rf"(?:最终|正确)?答案\s*(?:应该|应当|应)?\s*(?:是|为|选)?\s*[:：]?\s*{pre}{group}"),
        (_DECLARED, rf"答\s*[:：]\s*{pre}{group}"),
        (_DECLARED, rf"(?:(?:故|因此|所以|本题|应当?|我)\s*)?(?<![不未首可备候])选(?:择)?\s*[:：]?\s*{pre}{group}"),
        (_DECLARED, rf"正确(?:的)?(?:选项|答案)?\s*(?:是|为|应为)\s*[:：]?\s*{pre}{group}"),
        (_DECLARED, rf"{pre}{group_upper}\s*(?:项|选项)?\s*(?:为|是)\s*(?:正确|最佳|最合适)的?(?:答案|选项)"),
        (
            _WEAK,
            rf"{pre}{group_upper}\s*[)\]]?\s+(?:is|are|seems|looks|appears)\s+(?:to\s+be\s+)?(?:the\s+)?"
            rf"(?:most\s+)?(?:correct|right|accurate|true|appropriate|likely|best)\b",
        ),
        (_WEAK, rf"\bI\s+(?:think|believe|would\s+say|'d\s+say)\s+(?:(?:it\s+is|it's)\s+)?{pre}{group_upper}"),
        (_WEAK, rf"\b(?:most\s+likely|probably)\s*,?\s*(?:(?:it\s+is|it's)\s+)?{pre}{group_upper}"),
        (
            _WEAK,
            # "it is B", but not "It is A good option" (A as an article before a word).
            rf"\bit(?:'s|\s+is|\s+should\s+be|\s+must\s+be|\s+would\s+be)\s+{pre}{group_upper}"
            rf"(?!\s+(?!(?:because|since|as|which|and|but|for|given|here|now)\b)(?-i:[a-z]{{2,}}))",
        ),
        (_WEAK, rf"\bnot\s+(?:option\s+)?{cap}\b[^.;\n]{{0,60}}?\bbut\s+(?:rather\s+)?{pre}{group_upper}"),
        (_WEAK, rf"{pre}{group_upper}\s*[)\]]?\s*(?:项|选项)?\s*(?:是|为)?\s*(?:正确|对的)"),
        # per-option verdict lines: "B. Correct" / "B：正确"
        (_VERDICT, rf"(?m)^[ \t]*[(\[]?{group_upper}[ \t]*[)\].:：\-][ \t]*(?:correct|true|right|正确|对)(?![A-Za-z])"),
        (_WEAK, rf"(?:应该|应当|应)(?:是|为)\s*{pre}{group_upper}"),
        (_WEAK, rf"(?:而是|最可能(?:的)?(?:是|为)|可能性最大(?:的)?(?:是|为))\s*{pre}{group_upper}"),
    ]
    return _Patterns(
        options=options,
        commits=tuple((tier, re.compile(p, flags)) for tier, p in commits),
        bare=re.compile(
            rf"\s*(?:(?:the\s+)?(?:answer|option|choice)\s*[:：]?\s*|答案\s*[:：]?\s*|选项\s*)?[(\[{{]?\s*{group}"
            rf"\s*[)\]}}]?\s*[.。:：!]?\s*",
            re.IGNORECASE,
        ),
        leading=re.compile(rf"\s*[(\[]?(?P<g>{cap})\s*(?:[.)\]:：、]|\s[-–]\s)\s*\S"),
        echo_line=re.compile(rf"^\s*[(\[]?([{up}])\s*[.)\]:：、]", re.MULTILINE),
        mention=re.compile(
            rf"(?:\b(?:option|choice)\s+|选项\s*)[(\[]?(?P<g>{upper})|[(\[](?P<p>{cap})[)\]]"
            rf"|{stand_alone_before}(?P<x>{cap})\s*(?:项|选项)",
            re.IGNORECASE,
        ),
        emphasis=re.compile(rf"(\*\*|\*|__)\s*(?P<g>[{up}])\s*\1"),
    )


def _letters(group: str, options: str) -> str | None:
    """Sorted distinct letters of a matched group, None when the group is not an answer."""
    if len(group) > 1 and group.isalpha() and group.isupper():  # concatenated: "AC"
        if len(set(group)) != len(group) or group in _BLOCKED_CONCAT:
            return None
        letters = group
    else:
        letters = "".join(re.findall(r"(?<![A-Za-z])[A-Za-z](?![A-Za-z])", group)).upper()
    letters = "".join(sorted(set(letters)))
    return letters if letters and all(ch in options for ch in letters) else None


def _vetoed(text: str, start: int) -> bool:
    """Negated ("not B"), conditional ("if B is ...") or a grade ("grade B") right before start."""
    before = text[max(0, start - 80) : start]
    return bool(_NEAR_VETO.search(before) or _CLAUSE_VETO.search(before) or _GRADING_BEFORE.search(before))


def _commitments(text: str, pats: _Patterns) -> list[tuple[int, int, int, str]]:
    """All (tier, start, end, letters) commitments, hedges and negations removed."""
    found = []
    for tier, pattern in pats.commits:
        for m in pattern.finditer(text):
            g_start, g_end = m.span("g")
            group = m.group("g")
            if _HEDGE_AFTER.match(text, g_end) or _HEDGE_BEFORE.search(text[max(0, g_start - 20) : g_start]):
                continue
            letters = _letters(group, pats.options)
            if letters is None or (group == "A" and _ARTICLE_AFTER.match(text, g_end)):
                continue
            end = max(m.end(), g_end)
            if len(letters) > 1 and not group.isalpha() and _SINGULAR_PREDICATE.match(text, g_end):
                # "The answer is B and A is wrong": the list ends before a clause about A.
                first = re.search(r"[A-Za-z]", group)
                letters, end = first.group().upper(), g_start + first.end()
            if tier != _DECLARED and _NEGATED_AFTER.match(text, m.end()):
                continue
            if _vetoed(text, m.start()) or _GRADING_BEFORE.search(text[max(0, g_start - 40) : g_start]):
                continue
            found.append((tier, m.start(), end, letters))
    return found


def _choose(found: list[tuple[int, int, int, str]], text: str) -> tuple[int, int, str] | None:
    """Pick the winning commitment (rules in the module docstring), None if they conflict."""
    tagged = [f for f in found if f[0] == _TAGGED]
    if tagged:
        _, s, e, letters = max(tagged, key=lambda f: (f[1], f[2]))
        return s, e, letters
    weak = sorted((f for f in found if f[0] == _WEAK), key=lambda f: (f[1], f[2]))
    declared = [f for f in found if f[0] == _DECLARED]
    if declared:
        _, s, e, letters = max(declared, key=lambda f: (f[1], f[2]))
        for _, ws, we, wl in weak:
            if ws >= e and _CORRECTION.search(text, e, ws):
                s, e, letters = ws, we, wl
        return s, e, letters
    verdicts = sorted((f for f in found if f[0] == _VERDICT), key=lambda f: (f[1], f[2]))
    if verdicts:  # "A. Incorrect / B. Correct / C. Correct": every option judged correct
        letters = "".join(sorted(set("".join(f[3] for f in verdicts))))
        return verdicts[0][1], verdicts[-1][2], letters
    if not weak:
        return None
    _, s, e, letters = weak[0]
    for _, ws, we, wl in weak[1:]:
        if wl != letters and not _CORRECTION.search(text, e, ws):
            return None  # "A is correct for X, B is correct for Y": no single commitment
        s, e, letters = ws, we, wl
    return s, e, letters


def _option_text_answer(text: str, option_texts: dict[str, str], options: str) -> tuple[int, int, str] | None:
    """The single option whose text the output quotes (longer quotes shadow their substrings)."""
    hits: list[tuple[str, int, int, str]] = []
    for letter, option in option_texts.items():
        if not isinstance(option, str) or not isinstance(letter, str):
            raise TypeError(f"option_texts must map letters to strings, got {letter!r}: {option!r}")
        key = " ".join(option.lower().split()).strip(" .。;；,，")
        letter = letter.strip().upper()
        if letter not in options or len(key) < (2 if re.search(r"[\u4e00-\u9fff]", key) else 4):
            continue  # too short to quote unambiguously ("No", "CT")
        pattern = r"(?<![A-Za-z0-9])" + r"\s+".join(map(re.escape, key.split())) + r"(?![A-Za-z0-9])"
        for m in re.finditer(pattern, text, re.IGNORECASE):
            if not _NEAR_VETO.search(text[max(0, m.start() - 40) : m.start()]):
                hits.append((letter, m.start(), m.end(), key))
    keys = {h[3] for h in hits}
    letters = {h[0] for h in hits if not any(h[3] != k and h[3] in k for k in keys)}
    if len(letters) != 1:
        return None
    letter = letters.pop()
    _, s, e, _ = max((h for h in hits if h[0] == letter), key=lambda h: h[1])
    return s, e, letter


def _check_options(options: str) -> str:
    if not isinstance(options, str) or not options:
        raise ValueError(f"options must be a non-empty string of letters, got {options!r}")
    up = options.upper()
    if not up.isascii() or not up.isalpha() or len(set(up)) != len(up):
        raise ValueError(f"options must be distinct ASCII letters, got {options!r}")
    return "".join(sorted(up))


def extract_choice_detailed(
    text: str | None, options: str = "ABCDE", option_texts: dict[str, str] | None = None
) -> ChoiceResult:
    """Classify a model output and extract the letter(s) it commits to.

    ``options`` are the valid letters (e.g. ``"ABCD"``); ``option_texts`` maps letters to option
    text so an answer that only quotes one option's text still scores.  See the module
    docstring for the rules.
    """
    pats = _patterns(_check_options(options))
    if text is None:
        return ChoiceResult(None, "empty", "")
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}")
    base = 0
    if _THINK_END in text:  # reasoning models: only the final answer after </think> counts
        base = text.rindex(_THINK_END) + len(_THINK_END)
    raw = text[base:]
    if not raw.strip():
        return ChoiceResult(None, "empty", "")
    norm = raw.translate(_TRANSLATE)
    plain = norm.translate(_EMPHASIS)

    def result(span: tuple[int, int, str]) -> ChoiceResult:
        s, e, letters = span
        e = _CLOSERS.match(plain, e).end()  # show "\\boxed{B}", "(B)", "<answer>B</answer>" whole
        return ChoiceResult(letters, "answered", raw[s:e].strip())

    chosen = _choose(_commitments(plain, pats), plain)
    if chosen:
        return result(chosen)
    bare = pats.bare.fullmatch(plain)
    if bare and not _HEDGE_AFTER.match(plain, bare.end("g")):
        letters = _letters(bare.group("g"), pats.options)
        if letters:
            return result((bare.start(), bare.end(), letters))
    echoed = len(set(pats.echo_line.findall(plain))) > 1  # the output repeats the option list
    mentions: dict[str, tuple[int, int]] = {}
    if not echoed:
        found = [(m, m.lastgroup) for m in pats.mention.finditer(plain)]
        found += [(m, "g") for m in pats.emphasis.finditer(norm)]
        for m, name in found:
            s, e = m.span(name)
            if _vetoed(plain, m.start()) or _NEGATED_AFTER.match(plain, e) or _HEDGE_AFTER.match(plain, e):
                continue
            mentions[m.group(name).upper()] = (m.start(), m.end())
    # An output that starts with a letter and option text answers, unless it marks other letters.
    leading = None if echoed else pats.leading.match(plain)
    if leading and set(mentions) <= {leading.group("g")}:
        return result((leading.start("g"), leading.end("g"), leading.group("g")))
    refusal = _REFUSAL.search(plain)
    if refusal:
        return ChoiceResult(None, "refused", raw[refusal.start() : refusal.end()])
    if len(mentions) == 1:
        ((letter, (s, e)),) = mentions.items()
        return result((s, e, letter))
    if len(mentions) > 1:
        return ChoiceResult(None, "unparsed", "")
    if option_texts:
        quoted = _option_text_answer(plain, option_texts, pats.options)
        if quoted:
            return result(quoted)
    return ChoiceResult(None, "unparsed", "")


def extract_choice(text: str | None, options: str = "ABCDE", option_texts: dict[str, str] | None = None) -> str | None:
    """The letter(s) ``text`` commits to (sorted, e.g. ``"AC"``), or None; never a guess."""
    return extract_choice_detailed(text, options, option_texts).answer
