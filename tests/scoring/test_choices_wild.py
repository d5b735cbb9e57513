"""Answer extraction in the wild: outputs as models really write them (issue 14, point 8).

Two halves: a hand-written table of phrasings collected from model outputs (EN + ZH), and a
generator that composes outputs from templates written apart from the rules: a preamble (none,
a reasoning trace, a <think> block), a cue, a letter style (plain, lower case, quoted,
bracketed, bold, full width, boxed) and a tail (option text, explanation).  Each half has its
answers and its refusals to guess: hedges, negations, option lists repeated back.
"""

from __future__ import annotations

import itertools
import random

import pytest

from spinemed.choices import extract_choice_detailed

OPTIONS = "ABCDE"
TEXTS = {
    "A": "Cervical spondylotic myelopathy",
    "B": "Lumbar disc herniation",
    "C": "Lumbar spinal stenosis",
    "D": "Ankylosing spondylitis",
    "E": "Spinal epidural abscess",
}
TEXTS_ZH = {"A": "脊髓型颈椎病", "B": "腰椎间盘突出症", "C": "腰椎管狭窄症", "D": "强直性脊柱炎", "E": "硬膜外脓肿"}

HAND_ANSWERED = [
    # Chinese cues other than 答案
    ("正确选项是B", "B"), ("正确选项为：C", "C"), ("应选C。", "C"), ("应选择 A。", "A"), ("选择D", "D"),
    ("故选A", "A"), ("答：B", "B"), ("答：Ｅ", "E"), ("最可能的是C", "C"), ("本题选E", "E"), ("本题答案为B", "B"),
    ("正确的选项应该是 C", "C"), ("B选项正确", "B"), ("选项C是正确的", "C"), ("参考答案：B", "B"),
    ("最佳选项为D", "D"), ("最合适的是C", "C"), ("最佳答案：D", "D"), ("我觉得是C", "C"), ("我认为是B", "B"),
    ("个人认为选D", "D"), ("该题选A", "A"), ("结论：C", "C"), ("结论：选C", "C"), ("综合分析，应选择E", "E"),
    ("故本题选B项", "B"), ("此题答案为A", "A"), ("答案应为：D。", "D"), ("因此答案选择C", "C"),
    ("A和B都不对，答案是D", "D"), ("A、B错误，故选D", "D"), ("排除A、C、D，选B", "B"), ("A错，B对", "B"),
    ("这道题选 C", "C"), ("我会选择B", "B"), ("正确答案：【C】", "C"), ("答案为（B）", "B"), ("答案是 (b)", "B"),
    ("答案：C（腰椎管狭窄症）", "C"), ("正确答案是C，而不是A", "C"), ("不是A，答案是C", "C"), ("答案：B、D", "BD"),
    # lower-case labels
    ("the answer is c", "C"), ("the answer is c.", "C"), ("(b)", "B"), ("I pick (b) because of the dermatome.", "B"),
    ("Option (d) is correct", "D"), ("I'd say c", "C"), ("c is correct", "C"), ("Correct option: c", "C"),
    ("So the answer should be b) spinal stenosis.", "B"), ("b would be the best answer here.", "B"),
    # quoted letters
    ('The answer is "C".', "C"), ("答案是“C”", "C"), ("答案是「C」", "C"), ("Answer: 'C'", "C"), ("I choose 'B'", "B"),
    ("The correct response is “D”.", "D"), ("My answer: ‘A’", "A"), ('Final answer: "e"', "E"),
    # arrows, markdown, LaTeX, full width, reasoning traces
    ("Answer → C", "C"), ("Answer -> D", "D"), ("**Answer: B**", "B"), ("**B**", "B"), ("\\boxed{B}", "B"),
    ("Ｂ", "B"), ("答案：Ｃ", "C"), ("$\\boxed{\\textbf{D}}$", "D"),
    ("<think>Maybe A? No: the claudication is neurogenic.</think>The answer is C.", "C"),
    ("<think>\nA is wrong, B is wrong.\n</think>\n\n**D**", "D"),
    ("A and B are wrong, the answer is D", "D"), ("Not A. The answer is E.", "E"),
    # a letter with its option text in mid-sentence (needs the option texts, see below)
    ("I would go with B. Lumbar disc herniation because the straight-leg raise is positive.", "B"),
    ("I'd go with C. Lumbar spinal stenosis", "C"), ("My pick: B. Lumbar disc herniation fits best.", "B"),
    ("The answer: (C) Lumbar spinal stenosis", "C"), ("B) Lumbar disc herniation is the most likely diagnosis", "B"),
    # multi-answer (question banks carry X-type items: answers like "AC")
    ("The correct options are A and C.", "AC"), ("答案：ACD", "ACD"), ("正确答案为B、D、E", "BDE"), ("选AC。", "AC"),
    ("Both B and D are correct.", "BD"), ("Final answer: A, C", "AC"), ("本题答案：A和E", "AE"), ("\\boxed{BD}", "BD"),
]

# Answered only with the option texts: a letter followed by its own option text.
HAND_ANSWERED_WITH_TEXTS = [
    ("The most likely diagnosis is B. Lumbar disc herniation.", "B"),
    ("Looking at the MRI, C. Lumbar spinal stenosis explains the claudication.", "C"),
    ("Given HLA-B27 and sacroiliitis, this is D: Ankylosing spondylitis.", "D"),
    ("Fever, back pain and IV drug use point to E - Spinal epidural abscess.", "E"),
    ("Not A. Cervical spondylotic myelopathy; rather C. Lumbar spinal stenosis", "C"),
    ("My pick would be (d) ankylosing spondylitis given HLA-B27.", "D"),
    ("影像提示 B. 腰椎间盘突出症 可能性大", "B"),
]

HAND_NOT_ANSWERED = [
    "not C", "Not B.", "It could be A or B.", "可能是B，也可能是C", "不确定，可能是B或C", "Either C or D, hard to say.",
    "It is not B. Lumbar disc herniation.",
    "I cannot provide a diagnosis without an examination.", "无法确定，需要更多信息。",
    "A. Cervical spondylotic myelopathy\nB. Lumbar disc herniation\nC. Lumbar spinal stenosis",
    "The answer is a disc herniation.", "Answer: A lumbar MRI is needed first.", "Vitamin D deficiency is unlikely here.",
    "HLA-B27 is positive.", "ASIA grade C injury.", "The answer is CAD.", "<think>The answer is B.</think>",
    "If the answer were C, the pain would be worse when walking.", "A is correct for children, B is correct for adults.",
    "Options A, B and C describe different syndromes.", "", "   ", "我不选B",
]


@pytest.mark.parametrize("output,expected", HAND_ANSWERED)
def test_hand_written_outputs_answer(output, expected):
    got = extract_choice_detailed(output, OPTIONS)
    assert (got.answer, got.status) == (expected, "answered"), got


@pytest.mark.parametrize("output,expected", HAND_ANSWERED_WITH_TEXTS)
def test_letters_followed_by_their_option_text_answer(output, expected):
    texts = TEXTS_ZH if any("\u4e00" <= ch <= "\u9fff" for ch in output) else TEXTS
    got = extract_choice_detailed(output, OPTIONS, texts)
    assert (got.answer, got.status) == (expected, "answered"), got


@pytest.mark.parametrize("output", HAND_NOT_ANSWERED)
def test_hand_written_outputs_that_commit_to_nothing(output):
    got = extract_choice_detailed(output, OPTIONS, TEXTS)
    assert got.answer is None, got


# --------------------------------------------------------------------------------------
# Generated outputs: templates written apart from the rules
# --------------------------------------------------------------------------------------

PREAMBLES = [
    "",
    "Let's analyze this step by step. The patient is 67 with leg pain on walking relieved by sitting.\n\n",
    "<think>\nThe MRI shows a narrowed canal; option A is cervical, which does not fit.\n</think>\n",
    "Reasoning: bilateral symptoms, flexion relief and a normal pulse favour a neurogenic cause. ",
    "首先分析病史：患者行走后下肢疼痛，弯腰可缓解。\n",
]

# {L} is the letter as styled below; each cue commits to it.
CUES_EN = [
    "The answer is {L}.", "Answer: {L}", "Final answer: {L}", "So my final answer is {L}.",
    "Therefore, the correct option is {L}.", "The best answer here is {L}.", "I'll go with {L}.",
    "My choice: {L}", "Correct answer → {L}", "{L} is the correct answer.", "The right choice is {L}.",
    "Hence the answer: {L}", "In conclusion, {L}.",
]
CUES_ZH = [
    "答案是{L}。", "正确答案为{L}。", "故选{L}。", "本题选{L}。", "应选{L}。", "正确选项是{L}。", "所以选择{L}。",
    "答：{L}", "综上所述，答案为{L}。", "最终答案：{L}", "我认为是{L}。", "最佳选项为{L}。", "因此，本题的答案是{L}。",
]
LETTER_STYLES = [
    lambda x: x, lambda x: f"({x})", lambda x: f"**{x}**", lambda x: f'"{x}"', lambda x: f"“{x}”",
    lambda x: f"「{x}」", lambda x: chr(ord(x) + 0xFEE0), lambda x: f"[{x}]", lambda x: f"'{x}'",
]
# lower case only where a reader would take it as a label: bracketed, quoted, or ending the phrase
LOWER_STYLES = [lambda x: f"({x.lower()})", lambda x: f'"{x.lower()}"']
TAILS_EN = ["", " It best explains the findings.", "\n\nExplanation: the other options do not fit the imaging."]
TAILS_ZH = ["", "其余选项与影像不符。"]


def _generated_answers(n: int, seed: int = 14) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    combos = []
    for lang, cues, tails in (("en", CUES_EN, TAILS_EN), ("zh", CUES_ZH, TAILS_ZH)):
        for pre, cue, style, tail in itertools.product(PREAMBLES, cues, LETTER_STYLES + LOWER_STYLES, tails):
            if style in LOWER_STYLES and lang == "zh":
                continue
            combos.append((pre, cue, style, tail))
    picks = rng.sample(combos, n)
    out = []
    for pre, cue, style, tail in picks:
        letter = rng.choice(OPTIONS)
        out.append((pre + cue.format(L=style(letter)) + tail, letter))
    return out


NEGATIONS = [
    "{X} and {Y} are wrong, the answer is {Z}.", "Not {X}; the answer is {Z}.", "{X}, {Y} 均错误，故选{Z}。",
    "It isn't {X}. I choose {Z}.", "答案不是{X}，而是{Z}。", "排除{X}和{Y}，选{Z}。",
    "Option {X} is incorrect. Option {Z} is correct.", "While {X} is tempting, the answer is {Z}.",
]
HEDGES = [
    "It could be {X} or {Z}.", "{X} or {Z}, I am not sure.", "可能是{X}或{Z}。", "Either {X} or {Z} would fit.",
    "Not {X}.", "I would not pick {X}.", "不是{X}。", "If it were {X}, the pain would be cervical.",
]


def _generated_negations(seed: int = 15) -> list[tuple[str, str | None]]:
    rng = random.Random(seed)
    out = []
    for template in NEGATIONS:
        for _ in range(3):
            x, y, z = rng.sample(OPTIONS, 3)
            out.append((template.format(X=x, Y=y, Z=z), z))
    for template in HEDGES:
        for _ in range(2):
            x, _y, z = rng.sample(OPTIONS, 3)
            out.append((template.format(X=x, Z=z), None))
    return out


GENERATED = _generated_answers(160)


def test_the_generated_table_is_large_and_varied():
    outputs = [o for o, _ in GENERATED] + [o for o, _ in _generated_negations()]
    assert len(set(outputs)) + len(HAND_ANSWERED) + len(HAND_NOT_ANSWERED) >= 250
    assert sum("<think>" in o for o in outputs) >= 10 and sum("\uff21" <= ch <= "\uff25" for o in outputs for ch in o) >= 5


@pytest.mark.parametrize("output,expected", GENERATED)
def test_generated_outputs_answer(output, expected):
    got = extract_choice_detailed(output, OPTIONS)
    assert (got.answer, got.status) == (expected, "answered"), got


@pytest.mark.parametrize("output,expected", _generated_negations())
def test_generated_negations_and_hedges(output, expected):
    got = extract_choice_detailed(output, OPTIONS)
    assert got.answer == expected, got
