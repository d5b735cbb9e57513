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
2. final-answer cues: "Final answer: C", "Final: C", "In conclusion, C", 最终答案/最后选 C,
   综上(所述)…选/答案 C;
3. explicit answer declarations: "The answer is B", "Answer: b", "B is the correct answer",
   "I choose B", "Therefore, B.", 答案是/答案：/答案为/正确答案为/故选/本题选/应选 B,
   "B为正确答案", "答案不是A，是C" (the negated letters are left out);
   "The best answer here is B", "My choice: B", "Answer → C", 最佳选项为/最合适的是 D, 结论：C;
4. weaker commitments: "B is correct", "most likely B", "it is B", "not A but B", "不是A，是C",
   选项B正确, "B项正确", 应该是B, 而是B, 我认为是/我觉得是 B, "c is correct" (a lower-case label
   opening a sentence), "Option (d) is correct" (a lower-case letter in brackets);
5. per-option verdicts: lines "A. Incorrect / B. Correct / C. Correct", or inline "A错，B对".

Among (1) the last one wins.  Otherwise the last final cue (2) wins over every declaration
before or after it ("I would choose B, but on reflection... Final: C" gives C); without one
the last declaration (3) wins.  Later commitments override the winner only after a correction
cue ("wait", "actually", "on reflection", 不对, 更正 ...), so "The answer is A. Wait, actually C
is correct." gives C while "Answer: B. Explanation: A is correct only in children" keeps B.
Without (1)-(3), every option judged correct by (5) is the answer; otherwise the (4) matches
must agree unless a correction cue separates them ("A is correct for X, B is correct for Y"
is unparsed).  A match is dropped when it is a hedge (followed by "or X", "/X", 或/还是 X),
negated right before ("not", "I don't think", 不是, 不选 ...) or sits in a conditional clause
("if", "whether", "unless" ...).  Lists join with "and", ",", "、", 和, 与, 及 ("正确答案为B和D",
"Both A and D").

A quoted single letter is a label: '"C"', “C”, 'c', 「C」 read as "(C)".

Only when nothing commits, in this order: an output that is just a letter or letter list
("B", "B.", "(B)", "B)", "Option B", "**B**", "A, C", "AC") answers; an output that starts
with a letter followed by option text ("B. Lumbar disc herniation") answers unless it marks
another letter; a refusal cue gives ``refused``; marked mentions ("(B)", "Option B",
"选项B", "**B**") answer if exactly one letter is marked without negation; with
``option_texts``, an output that quotes exactly one option's text answers (a quote that is
part of a longer matching option's text does not count; texts under 4 characters, or 2 CJK
characters, are never matched), and before that a letter followed by the start of its own option
text anywhere in the output answers ("The most likely diagnosis is B. Lumbar disc herniation");
such a letter under a negation ("It is not B. Lumbar disc herniation") is never answered by a
quote of its text.  A quote is ignored when its clause negates it ("I don't think
it's X", "unlikely to be X", "rather than X", 不考虑/排除/并非 X, "X is ruled out / excluded /
unlikely", X可排除).  An output that merely repeats the option list (one "A. ..." line per
option) answers only through an explicit commitment.

A letter must stand alone: not inside a word or abbreviation (CT, ACDF, DISH, MRI), not
glued to a digit or hyphen (HLA-B27, T2, S1, C-reactive), not after a grading word
(ASIA grade C, Frankel D, Type A, Modic, vitamin, hepatitis ...).  A run of capitals ("AC",
"ABD") is a letter list only when it looks like an answer key: distinct letters in ascending
order, ended by punctuation, a line end, a non-letter or a connective ("AC because ..."), and
not a listed abbreviation (ACE, ADH, ABG, BCG ... ; after a Chinese cue, 答案：ACE, a listed run
is a key).  So "The answer is CAD.", "Answer: ACE inhibitor" and "the ABC approach" commit to
nothing.  Lowercase letters count only as the whole output or after an explicit cue, before
punctuation or the end ("answer: b", but not "the answer is a disc herniation"); a capital "A"
followed by a lowercase word is the article ("Answer: A lumbar MRI is needed").  Letters
outside ``options`` are not letters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .text import CJK_UNIFIED

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
# A quoted single letter is a label: '"C"', '“C”', "'c'", 「C」 read as "(C)" (same length).
_QUOTED_LETTER = re.compile(r"[\"'\u201c\u201d\u2018\u00ab\u300e\[](\s?[A-Za-z]\s?)[\"'\u201c\u201d\u00bb\u300f\]]")
_EMPHASIS = str.maketrans({"*": " ", "`": " ", "_": " ", "$": " "})  # markdown / inline math
_CJK_UNIFIED_RE = re.compile(f"[{CJK_UNIFIED}]")  # Chinese option text may be quoted shorter

# Ascending runs of option letters that are abbreviations or words, not letter lists
# ("The answer is ACE." is the drug class).  Runs that repeat a letter or are out of order
# (CAD, BAD, DEB, ECG) are never answers anyway and are listed only to document the traps.
# Common multi-select keys (ABC, ACD, ABD, ABCD, ABCDE) are deliberately absent: as words they
# are caught by what follows them ("the ABCDE rule"), not by this list.  After a Chinese cue
# (答案：ACE) a listed run is a key: abbreviations there are followed by Chinese (ACE抑制剂).
_BLOCKED_CONCAT = frozenset(
    {
        # ascending: ACDF (cervical surgery), ACE(I), ADH, ABG (blood gas), BCG, CDH (congenital
        # dislocation of the hip), ADE (adverse drug event), CFH, AEG (Siewert), ACG, ACF
        *("ACDF", "ACE", "ACEI", "ADH", "ABG", "BCG", "CDH", "ADE", "CFH", "AEG", "ACG", "ACF"),
        # out of order or repeated letters (rejected by the order rule as well)
        *("CAD", "BAD", "DEB", "ECG", "EEG", "ACAF", "ADCF", "CAB", "BED", "FED", "DAB", "FAB", "ADD", "CHD"),
        *("DEAD", "BEAD", "FACE", "FADE", "CAFE", "DECAF", "CABG"),
    }
)

# Words after which a capital letter is a grade/type/class, not an option.
_GRADING_BEFORE = re.compile(
    r"\b(?:grades?|types?|class(?:es)?|stages?|frankel|asia|ais|ao|modic|pfirrmann|meyerding|group|vitamin"
    r"|hepatitis|zone|category|tier|schatzker|gustilo|denis|mallampati|score|phase|hla|factor|protein"
    r"|pattern|subtype|level|lesion|cohort|patient|strain|influenza)[ \t]*[-:]?[ \t]*$"
    r"|(?:分级|分型|分类|级|型|类)[ \t]*$",
    re.IGNORECASE,
)
_NEAR_VETO = re.compile(
    r"(?:(?:\b(?:not|never|nor|exclude|excluding|rule\s+out|ruled\s+out|eliminate|eliminating|against"
    r"|instead\s+of|rather\s+than)|n't)\s+"
    r"(?:(?:think|believe|feel|say)\s+(?:that\s+)?)?"  # "I don't think it's B"
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
    r"|mistake|instead|let\s+me\s+re\w*|on\s+(?:further\s+)?reflection|rethink\w*|change\s+my\s+answer)\b"
    r"|更正|纠正|不对|实际上|其实|重新考虑|修正|改为|等等",
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
# Option-text quotes are the weakest evidence, so any negation in the quote's clause drops it:
# "I don't think it's X", "unlikely to be X", "X is ruled out", "不考虑X", "X可排除".
_TEXT_CLAUSE_START = re.compile(
    r"(?s:.*)(?:[.;:!?,\n。；：！？，]|\b(?:but|so|therefore|thus|hence|although|though|whereas|while)\b"
    r"|但是?|而是|所以|因此|故)",
    re.IGNORECASE,
)
_TEXT_NEGATED_BEFORE = re.compile(
    r"(?:\b(?:not|no|never|nor|neither|unlikely|doubt(?:ful)?|against|without|absence|absent|lack|rather\s+than"
    r"|instead\s+of|rule[sd]?\s+out|ruling\s+out|exclud(?:e|es|ed|ing))|n't)\b"
    r"|不考虑|不是|并非|而非|不像|不太可能|不支持|不符合|排除|除外|否认|(?:无|非|没有)(?:明显)?\s*$",
    re.IGNORECASE,
)
_TEXT_NEGATED_AFTER = re.compile(
    r"\s*(?:(?:is|are|was|were|seems|appears|has\s+been|have\s+been|can\s+be|could\s+be|should\s+be|must\s+be"
    r"|is\s+being)\s+)?(?:also\s+|therefore\s+|thus\s+|effectively\s+|definitely\s+|clearly\s+|much\s+)?"
    r"(?:not\b|unlikely|less\s+likely|excluded|ruled\s+out|incorrect|wrong|inconsistent|improbable)"
    r"|\s*(?:可以|可|被|已|基本)?(?:排除|除外)|\s*(?:不考虑|不太可能|可能性(?:较|很)?小|不符合|不支持|不正确|错误)",
    re.IGNORECASE,
)
_THINK_END = "</think>"
_CLOSERS = re.compile(r"(?:[ \t]*[)\]}])*(?:[ \t]*</answer>)?")

# Tier of a commitment pattern (see module docstring).
_TAGGED, _FINAL, _DECLARED, _WEAK, _VERDICT = 0, 1, 2, 3, 4


@dataclass(frozen=True)
class _Patterns:
    options: str
    commits: tuple[tuple[int, bool, re.Pattern[str]], ...]  # (tier, Chinese cue, pattern)
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
    # A run of capitals ("AC") is a letter list only when it ends the phrase: then punctuation,
    # a line end, a non-letter or a connective ("AC because ..."), never a word ("ACE inhibitor",
    # "the ABCDE rule"); order and the word list are checked in _letters.
    run_end = (
        rf"(?=[ \t]*(?:\r?\n|$|[^\sA-Za-z0-9{CJK_UNIFIED}]|[项选为是均都和与及正]"
        r"|(?:because|since|as|and|but|is|are|was|were)\b))"
    )
    concat = rf"{stand_alone_before}(?-i:[{up}]{{2,{n}}}){stand_alone_after}{run_end}" if n > 1 else r"(?!x)x"
    sep = r"(?:\s*(?:,|;|、|&|\+|和|与|及|以及)\s*(?:and\s+)?|\s+and\s+)"
    # "A and C", "A、C", "(A), (C)".  Lists are bounded (twice the options, repeats allowed):
    # unbounded, a pattern that may start at every letter of "A, A, A, ..." is quadratic.
    more = rf"(?:[)\]]?{sep}[(\[]?{upper}){{0,{2 * n}}}"
    group = rf"(?P<g>{concat}|{upper}{more}|{lower}(?:\s*[,、]\s*{lower}){{0,{2 * n}}})"
    # a lower-case letter inside brackets is a label too: "Option (d) is correct", "(b) is right"
    paren_lower = rf"(?<=[(\[{{])\s*(?-i:[{low}])(?=\s*[)\]}}])"
    group_upper = rf"(?P<g>{concat}|{upper}{more}|{paren_lower})"
    pre = r"(?:(?:option|choice|letter)\s*|选项\s*)?[(\[{]?\s*"
    # Patterns that open with {pre} can start anywhere; this first-character check (same
    # matches) lets the scan skip most positions quickly (~40% faster on long outputs).
    lead = rf"(?=[ocl选(\[{{\s]|{cap})"
    # after an answer cue: "Answer: Both A and D", "The correct options are A and C"
    cued = r"(?:both\s+|all\s+of\s+)?(?:(?:options?|choices?|letters?)\s*|选项\s*)?[(\[{]?\s*"
    filler = (
        r"(?:(?:(?:most\s+)?likely|probably|clearly|definitely|actually|indeed|therefore|thus|now|still"
        r"|obviously)\s*[:,]?\s*)?"
    )
    declared_verbs = r"(?:is|are|would\s+be|should\s+be|will\s+be|must\s+be|=|:|-|→|->|=>|⇒)"
    neg_list = rf"{upper}(?:\s*(?:,|、|和|与|及|或|or|and)\s*{upper})*"
    flags = re.IGNORECASE
    # Chinese-cue patterns are marked by a leading "(?#zh)".
    commits = [
        (_TAGGED, rf"\\boxed\s*\{{\s*(?:\\(?:text|textbf|mathrm|mathbf)\s*\{{\s*)?{pre}{group}"),
        (_TAGGED, rf"<answer>\s*{pre}{group}"),
        # final-answer cues: the last one beats every ordinary declaration (see _choose)
        (
            _FINAL,
            rf"\b(?:final(?:ly)?(?:\s+(?:answer|choice|selection|option|response|verdict)s?\s*(?:{declared_verbs})?"
            rf"|\s*[:=])|(?:in\s+(?:conclusion|summary)|to\s+conclude|conclusion)\s*[:,])"
            rf"\s*[:\-]?\s*{filler}{cued}{group}",
        ),
        (
            _FINAL,
            rf"(?#zh)(?:最终|最后)(?:的)?\s*(?:(?:答案|选择|选项)\s*(?:应该|应当|应)?\s*(?:是|为|选)?"
            rf"|(?:应该|应当|应)?\s*选(?:择)?)\s*[:：]?\s*{pre}{group}",
        ),
        (
            _FINAL,
            rf"(?#zh)综上(?:所述|分析)?[^。；;.!?！？\n]{{0,30}}?(?:答案\s*(?:应该|应当|应)?\s*(?:是|为|选)?"
            rf"|(?<![不未首可备候])选(?:择)?)\s*[:：]?\s*{pre}{group}",
        ),
        (_DECLARED, rf"\banswers?\b\s*(?:{declared_verbs}\s*)?[:\-]?\s*{filler}{cued}{group}"),
        (
            _DECLARED,
            rf"\b(?:correct|right|best|most\s+appropriate|most\s+likely|true|final)\s+"
            rf"(?:option|choice|response|letter|answer)s?(?:\s+(?:here|overall|for\s+this\s+(?:question|case|patient)))?"
            rf"\s*{declared_verbs}?\s*:?\s*{filler}{cued}{group}",
        ),
        (
            _DECLARED,
            rf"\b(?:I\s+(?:would\s+|will\s+|'d\s+|'ll\s+)?(?:choose|select|pick|go\s+with)|(?:choose|select|pick)"
            rf"|my\s+(?:final\s+)?(?:answer|choice|selection|pick)\s*(?:is|would\s+be|:)|go\s+with)\s*:?\s*{pre}{group}",
        ),
        (
            _DECLARED,
            rf"{lead}{pre}{group_upper}\s*[)\]]?\s+(?:is|are|would\s+be)\s+(?:the\s+)?(?:(?:correct|right|best|final"
            rf"|most\s+appropriate)\s+(?:answers?|option|choice|response)|answers?\b)",
        ),
        (_DECLARED, rf"\b(?:therefore|thus|hence|so)\s*,?\s*{pre}{group_upper}[)\]]?(?=\s*(?:[.。!]|$))"),
        (_DECLARED, rf"(?#zh)(?:最终|正确)?答案\s*(?:应该|应当|应)?\s*(?:是|为|选)?\s*[:：]?\s*{pre}{group}"),
        (_DECLARED, rf"(?#zh)答\s*[:：]\s*{pre}{group}"),
        (_DECLARED, rf"(?#zh)(?:(?:故|因此|所以|本题|应当?|我)\s*)?(?<![不未首可备候])选(?:择)?\s*[:：]?\s*{pre}{group}"),
        (_DECLARED, rf"(?#zh)正确(?:的)?(?:选项|答案)?\s*(?:是|为|应为)\s*[:：]?\s*{pre}{group}"),
        (_DECLARED, rf"{lead}{pre}{group_upper}\s*(?:项|选项)?\s*(?:为|是)\s*(?:正确|最佳|最合适)的?(?:答案|选项)"),
        (
            _WEAK,
            rf"{lead}{pre}{group_upper}\s*[)\]]?\s+(?:is|are|seems|looks|appears)\s+(?:to\s+be\s+)?(?:the\s+)?"
            rf"(?:most\s+)?(?:correct|right|accurate|true|appropriate|likely|best)\b",
        ),
        (_WEAK, rf"\bI(?:\s+(?:think|believe|would\s+say)|\s*'d\s+say)\s+(?:(?:it\s+is|it's)\s+)?{pre}{group}"),
        # a lower-case label opening a sentence: "c is correct", "b would be the best answer"
        (
            _WEAK,
            rf"(?:^|(?<=[.!?;\n]))\s*(?:(?:option|choice)\s+)?[(\[]?(?P<g>(?-i:[{low}]))[)\]]?\s+(?:is|would\s+be)\s+"
            rf"(?:the\s+)?(?:most\s+)?(?:correct|right|best|true|answer)\b",
        ),
        (_WEAK, rf"(?#zh)(?:我|个人)(?:认为|觉得|判断|倾向于认为)\s*(?:是|应该是|应是|为)\s*[:：]?\s*{pre}{group_upper}"),
        (_WEAK, rf"\b(?:most\s+likely|probably)\s*,?\s*(?:(?:it\s+is|it's)\s+)?{pre}{group_upper}"),
        (
            _WEAK,
            # "it is B", but not "It is A good option" (A as an article before a word).
            rf"\bit(?:'s|\s+is|\s+should\s+be|\s+must\s+be|\s+would\s+be)\s+{pre}{group_upper}"
            rf"(?!\s+(?!(?:because|since|as|which|and|but|for|given|here|now)\b)(?-i:[a-z]{{2,}}))",
        ),
        (_WEAK, rf"\bnot\s+(?:option\s+)?{cap}\b[^.;\n]{{0,60}}?\bbut\s+(?:rather\s+)?{pre}{group_upper}"),
        # "答案不是A，是C" / "不是A和B，而是C": the negated letters are not part of the answer
        (
            _DECLARED,
            rf"(?#zh)答案\s*(?:应该|应当|应)?\s*(?:不是|并非|不为|不选)\s*{pre}{neg_list}\s*(?:项|选项)?\s*[)\]]?"
            rf"\s*[,，;；]?\s*(?:而|应该|应当|应)?\s*(?:是|为|选)\s*[:：]?\s*{pre}{group}",
        ),
        (
            _WEAK,
            rf"(?#zh)(?:不是|并非|不选)\s*{pre}{neg_list}\s*(?:项|选项)?\s*[)\]]?\s*[,，;；]\s*(?:而|应该|应当|应)?"
            rf"\s*(?:是|选|为)\s*{pre}{group_upper}",
        ),
        (_WEAK, rf"{lead}{pre}{group_upper}\s*[)\]]?\s*(?:项|选项)?\s*(?:是|为)?\s*(?:正确|对的)"),
        # per-option verdict lines: "B. Correct" / "B：正确"
        (_VERDICT, rf"(?m)^[ \t]*[(\[]?{group_upper}[ \t]*[)\].:：\-][ \t]*(?:correct|true|right|正确|对)(?![A-Za-z])"),
        (_WEAK, rf"(?:应该|应当|应)(?:是|为)\s*{pre}{group_upper}"),
        (_WEAK, rf"(?:而是|最可能(?:的)?(?:是|为)|可能性最大(?:的)?(?:是|为))\s*{pre}{group_upper}"),
        (
            _DECLARED,
            rf"(?#zh)(?:最佳|最合适|最恰当|最正确|最符合)(?:的)?(?:选项|答案|选择)?\s*(?:是|为|应为|应选)\s*[:：]?\s*{pre}{group}",
        ),
        (_DECLARED, rf"(?#zh)(?:结论|结果|回答)\s*[:：]\s*{pre}{group_upper}(?![A-Za-z])\s*(?:项|选项)?\s*(?=[。.；;，,\s]|$)"),
        # inline verdicts "A错，B对": only when exactly one option is judged right (see _choose)
        (_VERDICT, rf"(?<![A-Za-z]){group_upper}\s*(?:项|选项)?\s*(?:对|正确)(?=\s*(?:[，,。；;]|$))"),
    ]
    return _Patterns(
        options=options,
        commits=tuple((tier, p.startswith("(?#zh)"), re.compile(p, flags)) for tier, p in commits),
        bare=re.compile(
            rf"\s*(?:(?:the\s+)?(?:answer|option|choice)\s*[:：]?\s*|答案\s*[:：]?\s*|选项\s*)?(?:both\s+)?[(\[{{]?\s*{group}"
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


def _letters(group: str, options: str, words_allowed: bool = False) -> str | None:
    """Sorted distinct letters of a matched group, None when the group is not an answer.

    A run of capitals ("AC") must be in ascending order without repeats, and not a listed
    abbreviation unless ``words_allowed`` (after a Chinese cue).
    """
    if len(group) > 1 and group.isascii() and group.isalpha() and group.isupper():  # concatenated: "AC"
        if list(group) != sorted(set(group)) or (group in _BLOCKED_CONCAT and not words_allowed):
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
    for tier, zh, pattern in pats.commits:
        for m in pattern.finditer(text):
            g_start, g_end = m.span("g")
            group = m.group("g")
            if _HEDGE_AFTER.match(text, g_end) or _HEDGE_BEFORE.search(text[max(0, g_start - 20) : g_start]):
                continue
            letters = _letters(group, pats.options, zh)
            if letters is None or (group == "A" and _ARTICLE_AFTER.match(text, g_end)):
                continue
            end = max(m.end(), g_end)
            if len(letters) > 1 and not group.isalpha() and _SINGULAR_PREDICATE.match(text, g_end):
                # "The answer is B and A is wrong": the list ends before a clause about A.
                first = re.search(r"[A-Za-z]", group)
                letters, end = first.group().upper(), g_start + first.end()
            if tier > _DECLARED and _NEGATED_AFTER.match(text, m.end()):
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
    final = [f for f in found if f[0] == _FINAL]
    declared = [f for f in found if f[0] == _DECLARED]
    if final or declared:
        # The last final cue ("Final answer: C", 最终答案, 综上…选) beats every declaration; without
        # one, the last declaration wins.  Later text overrides only after a correction cue.
        _, s, e, letters = max(final or declared, key=lambda f: (f[1], f[2]))
        later = sorted((f for f in (declared + weak if final else weak) if f[1] >= e), key=lambda f: (f[1], f[2]))
        for _, ws, we, wl in later:
            if _CORRECTION.search(text, e, ws):
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


def _option_text_answer(text: str, option_texts: dict[str, str], options: str,
                        negated: set[str] = frozenset()) -> tuple[int, int, str] | None:
    """The single option whose text the output quotes (longer quotes shadow their substrings)."""
    hits: list[tuple[str, int, int, str]] = []
    for letter, option in option_texts.items():
        if not isinstance(option, str) or not isinstance(letter, str):
            raise TypeError(f"option_texts must map letters to strings, got {letter!r}: {option!r}")
        key = " ".join(option.lower().split()).strip(" .。;；,，")
        letter = letter.strip().upper()
        if letter not in options or len(key) < (2 if _CJK_UNIFIED_RE.search(key) else 4):
            continue  # too short to quote unambiguously ("No", "CT")
        pattern = r"(?<![A-Za-z0-9])" + r"\s+".join(map(re.escape, key.split())) + r"(?![A-Za-z0-9])"
        for m in re.finditer(pattern, text, re.IGNORECASE):
            hits.append((letter, m.start(), m.end(), key))
    keys = {h[3] for h in hits}  # negated quotes still shadow their substrings
    hits = [h for h in hits if h[0] not in negated and not _text_negated(text, h[1], h[2])]
    letters = {h[0] for h in hits if not any(h[3] != k and h[3] in k for k in keys)}
    if len(letters) != 1:
        return None
    letter = letters.pop()
    _, s, e, _ = max((h for h in hits if h[0] == letter), key=lambda h: h[1])
    return s, e, letter


def _labelled_quote(text: str, option_texts: dict[str, str], options: str
                    ) -> tuple[tuple[int, int, str] | None, set[str]]:
    """A letter followed by the start of its own option text anywhere in a sentence ("I'd go with
    B. Lumbar spinal stenosis because ..."): the one such letter, not negated (None when several
    letters are quoted so, as in an echoed option list, or none is), and the letters quoted so
    under a negation ("It is not B. Lumbar disc herniation"), which no quote may answer."""
    found: dict[str, tuple[int, int]] = {}
    negated: set[str] = set()
    for letter, option in option_texts.items():
        letter = letter.strip().upper() if isinstance(letter, str) else ""
        if letter not in options or not isinstance(option, str):
            continue
        words = " ".join(option.split()).strip(" .。;；,，")[:24].split()  # the first words are enough
        if not words or len("".join(words)) < 3:
            continue
        pattern = (rf"(?<![A-Za-z0-9\-'])[(\[]?(?-i:{letter})\s*[.):：\]]?\s*[-–—]?\s*"
                   + r"\s+".join(map(re.escape, words)))
        for m in re.finditer(pattern, text, re.IGNORECASE):
            if _vetoed(text, m.start()) or _text_negated(text, m.start(), m.end()):
                negated.add(letter)
                continue
            found[letter] = (m.start(), m.end())
    if len(found) != 1 or set(found) & negated:
        return None, negated
    ((letter, (s, e)),) = found.items()
    return (s, e, letter), negated


def _text_negated(text: str, start: int, end: int) -> bool:
    """A negation in the clause of an option-text quote ("I don't think it's X", "X is excluded")."""
    before = text[max(0, start - 80) : start]
    clause = _TEXT_CLAUSE_START.match(before)
    if _TEXT_NEGATED_BEFORE.search(before, clause.end() if clause else 0):
        return True
    return _TEXT_NEGATED_AFTER.match(text, end) is not None


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
    norm = _QUOTED_LETTER.sub(lambda m: f"({m.group(1)})", raw.translate(_TRANSLATE))
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
        labelled, negated = _labelled_quote(plain, option_texts, pats.options)
        if labelled and set(mentions) <= {labelled[2]}:
            return result(labelled)
        quoted = _option_text_answer(plain, option_texts, pats.options, negated)
        if quoted:
            return result(quoted)
    return ChoiceResult(None, "unparsed", "")


def extract_choice(text: str | None, options: str = "ABCDE", option_texts: dict[str, str] | None = None) -> str | None:
    """The letter(s) ``text`` commits to (sorted, e.g. ``"AC"``), or None; never a guess."""
    return extract_choice_detailed(text, options, option_texts).answer
