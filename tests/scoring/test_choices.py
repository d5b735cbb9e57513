"""Answer-letter extraction: a broad EN + ZH table, traps that must not answer, and statuses."""

from __future__ import annotations

import pytest

from spinemed.choices import STATUSES, ChoiceResult, extract_choice, extract_choice_detailed

# (model output, expected answer) with the default options "ABCDE".
ANSWERED = [
    # explicit English declarations
    ("The answer is B.", "B"),
    ("Answer: B", "B"),
    ("answer: b", "B"),
    ("The correct answer is D", "D"),
    ("The correct option is C", "C"),
    ("Final answer: E", "E"),
    ("The best answer is B because it explains the claudication.", "B"),
    ("The answer is A because the MRI shows a central disc herniation.", "A"),
    ("The answer is likely C.", "C"),
    ("Answer - D", "D"),
    ("### Answer\nB", "B"),
    ("Answer:\n\nB) Lumbar stenosis", "B"),
    ("the answer is (D) spinal stenosis", "D"),
    ("B is the correct answer because A ignores the imaging.", "B"),
    ("B is the answer", "B"),
    ("I choose D", "D"),
    ("I would go with C.", "C"),
    ("My final answer is E.", "E"),
    ("Therefore, B.", "B"),
    # tags and LaTeX
    ("\\boxed{B}", "B"),
    ("The final answer is $\\boxed{\\text{C}}$", "C"),
    ("<answer>B</answer>", "B"),
    ("<answer> D. Cauda equina syndrome </answer>", "D"),
    ("Reasoning... the answer is A? <answer>C</answer>", "C"),
    # markdown emphasis and bare outputs
    ("**B**", "B"),
    ("*B*", "B"),
    ("The answer is: **C**", "C"),
    ("B", "B"),
    ("B.", "B"),
    ("(B)", "B"),
    ("B)", "B"),
    ("[C]", "C"),
    ("Option B", "B"),
    ("b", "B"),
    ("(b)", "B"),
    ("B. Lumbar disc herniation", "B"),
    ("C - Cervical spondylotic myelopathy", "C"),
    # weaker commitments
    ("not A; it is B", "B"),
    ("It is not A, but rather C.", "C"),
    ("C is correct.", "C"),
    ("A is incorrect. B is incorrect. C is correct.", "C"),
    ("Options A and B are wrong; D is right.", "D"),
    ("Most likely B.", "B"),
    ("I'm not sure, but I think B.", "B"),
    ("The most likely diagnosis is lumbar stenosis (C).", "C"),
    ("Option C describes neurogenic claudication best.", "C"),
    ("The answer: (A), (C)", "AC"),
    ("Among the options, (A) is wrong and (B) is the best choice.", "B"),
    # per-option verdicts
    ("Let me check each option.\nA. Incorrect.\nB. Correct.\nC. Incorrect.", "B"),
    ("A：错误\nB：正确\nC：错误", "B"),
    ("A. Correct\nB. Incorrect\nC. Correct", "AC"),
    # self-corrections: the last committed answer wins
    ("The answer is A. Wait, actually the answer is C.", "C"),
    ("The answer is A. Wait, actually C is correct.", "C"),
    ("The answer is A. Actually, no - B is correct.", "B"),
    ("答案是A。不对，应该是C。", "C"),
    # explanations that mention other letters keep the declared answer
    ("Answer: B. Explanation: A is wrong because it ignores the S1 root.", "B"),
    ("Answer: B. Explanation: A is correct only in children.", "B"),
    ("The answer is B and A is wrong.", "B"),
    ("I would not choose A. The answer is D.", "D"),
    ("Not A. The answer is B.", "B"),
    ("The correct answer is not C, it is D", "D"),
    ("I cannot be certain, but the answer is B.", "B"),
    ("I am not sure but the answer is B", "B"),
    ("Rather than A, the answer is D.", "D"),
    ("The patient has ASIA grade C injury. The answer is C.", "C"),
    ("Answer: C. ASIA grade C means motor function is preserved.", "C"),
    ("Answer: D. CT and MRI both show DISH; HLA-B27 is negative.", "D"),
    # multiple answers
    ("A and C", "AC"),
    ("AC", "AC"),
    ("A, C", "AC"),
    ("The answer is C, A", "AC"),
    ("The answers are A and C.", "AC"),
    ("A and C are correct", "AC"),
    ("Both A and C are correct.", "AC"),
    ("Answer: A, C and E.", "ACE"),
    ("答案：A、C", "AC"),
    ("答案为：C、D", "CD"),
    # Chinese phrasing and full-width characters
    ("答案是C", "C"),
    ("答案：Ｂ", "B"),
    ("答案为 D。", "D"),
    ("（Ｃ）", "C"),
    ("故选A", "A"),
    ("因此选择E。", "E"),
    ("选项B正确", "B"),
    ("B项正确。", "B"),
    ("本题选D", "D"),
    ("故本题选B项", "B"),
    ("应选C", "C"),
    ("正确答案为E", "E"),
    ("正确的是A", "A"),
    ("B为正确答案", "B"),
    ("综上所述，本题答案为B。", "B"),
    ("最终答案：**C**", "C"),
    ("答：D", "D"),
    ("答案：b", "B"),
    ("答案不是A，而是B", "B"),
    ("Correct answer: Ｄ．", "D"),
    ("A项错误，B项正确。", "B"),
    # reasoning models: only the text after </think> counts
    ("<think>The answer is A</think>The answer is C", "C"),
    # final-answer cues beat earlier (and later, uncorrected) declarations
    ("I would choose B, but on reflection... Final: C", "C"),
    ("I would choose B. Final answer: C. Some would answer B here.", "C"),
    ("Final answer: B. Wait, actually the answer is C.", "C"),
    ("I would choose B, but on reflection C is correct.", "C"),
    ("Final answer: C", "C"),
    ("最终答案：C", "C"),
    ("我先选A。最终选择：D", "D"),
    ("综上，选C", "C"),
    ("答案是A吗？综上所述，不选A，选C。", "C"),
    ("最后答案为D", "D"),
    ("In conclusion, B.", "B"),
    ("Conclusion: C", "C"),
    # Chinese lists joined by 和/与/及, negated letters left out
    ("正确答案为B和D", "BD"),
    ("答案是A与C", "AC"),
    ("答案：A及D", "AD"),
    ("选B和D", "BD"),
    ("答案不是A，是C", "C"),
    ("答案不是A和B，而是C", "C"),
    ("不是A，是C", "C"),
    ("Answer: Both A and D", "AD"),
    ("Both A and D", "AD"),
    # letter runs that look like answer keys
    ("The answer is AC because both apply.", "AC"),
    ("Answer: AC\nExplanation: A covers the root, C the cord.", "AC"),
    ("The answer is ACD.", "ACD"),
    ("答案：ACD", "ACD"),
    ("答案：ACE", "ACE"),  # after a Chinese cue a listed abbreviation is a key
    ("The answer is ABCDE.", "ABCDE"),
    ("Follow the ABC approach first; the answer is D.", "D"),
    ("ACE inhibitors are first line. Answer: B", "B"),
    ("The ABCDE rule applies; answer: B", "B"),
]

# Outputs that commit to nothing: the extractor must not guess.
NOT_ANSWERED = [
    # medical abbreviations and grades are not options
    "CT shows DISH; ACDF recommended; HLA-B27 positive",
    "T2 hyperintensity at the S1 root on MRI",
    "ASIA grade C",
    "The injury is ASIA grade C?",
    "Frankel D",
    "Type A fracture (AO)",
    "grade B spondylolisthesis",
    "Vitamin D deficiency",
    "Hepatitis B carrier",
    "vitamin B12",
    "C-reactive protein is elevated",
    "The answer is B12",
    "Answer: ACDF",
    "Answer: CT",
    # hedges, negations and conditionals
    "It could be A or B",
    "Either A or B is correct",
    "The answer is A or B.",
    "The answer is A/B",
    "答案：A或B",
    "If A is correct, then the pain would radiate.",
    "I cannot tell whether B is correct.",
    "Rather than A, consider the imaging first.",
    "B不正确",
    "Option A is wrong, option B is also wrong",
    "(A) and (C) both seem plausible.",
    "A is correct for cervical cases, B is correct for lumbar ones.",
    # articles and prose
    "The answer is a herniated disc.",
    "Answer: A lumbar MRI is needed first.",
    "It is A good option to operate early.",
    "A 45-year-old man with back pain.",
    # the output only repeats the options
    "A. Disc herniation\nB. Stenosis\nC. Spondylolisthesis",
    # letter runs that are words or abbreviations, not answer keys
    "The answer is CAD.",
    "Answer: ACE inhibitor",
    "The answer is ACE.",
    "ACE",
    "答案：ACE抑制剂",
    "The ABC approach is used first.",
    "Use the ABCDE rule.",
    "The answer is BAD.",
    "Answer: DEB",
    "Answer: ECG",
    "The answer is CA.",
    "Answer: AD patients",
    # negated letters
    "I don't think it's B.",
    "It is unlikely to be B.",
    "答案不是A",
]

REFUSED = [
    "I cannot provide medical advice.",
    "I'm sorry, but I can't help with that.",
    "I am unable to determine the diagnosis from this information.",
    "More information is needed; we need more clinical details.",
    "无法确定",
    "需要更多信息",
    "抱歉，无法回答这个问题，建议咨询医生。",
    "选A还是B无法确定",
]


@pytest.mark.parametrize(("text", "expected"), ANSWERED)
def test_answered(text: str, expected: str) -> None:
    result = extract_choice_detailed(text)
    assert result == ChoiceResult(expected, "answered", result.evidence)
    assert result.evidence and result.evidence in text
    assert extract_choice(text) == expected


@pytest.mark.parametrize("text", NOT_ANSWERED)
def test_not_answered(text: str) -> None:
    result = extract_choice_detailed(text)
    assert result.answer is None
    assert result.status == "unparsed"


@pytest.mark.parametrize("text", REFUSED)
def test_refused(text: str) -> None:
    result = extract_choice_detailed(text)
    assert (result.answer, result.status) == (None, "refused")
    assert result.evidence in text


@pytest.mark.parametrize("text", [None, "", "   \n\t", "<think>The answer is A</think>", "<think>x</think>  "])
def test_empty(text: str | None) -> None:
    assert extract_choice_detailed(text) == ChoiceResult(None, "empty", "")


def test_table_size() -> None:
    assert len(ANSWERED) + len(NOT_ANSWERED) + len(REFUSED) >= 80


def test_letters_outside_options_are_ignored() -> None:
    assert extract_choice("The answer is E", options="ABCD") is None
    assert extract_choice("E", options="ABCD") is None
    assert extract_choice("E is correct", options="ABCD") is None
    assert extract_choice("The answer is A and E", options="ABCD") == "A"
    assert extract_choice("The answer is E", options="ABCDE") == "E"
    assert extract_choice("ABCD", options="ABCD") == "ABCD"
    assert extract_choice("Answer: ACDF", options="ABCDEF") is None  # the operation, not four letters
    assert extract_choice("Answer: F", options="abcdef") == "F"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Answer: ECG", None),  # out of order
        ("The answer is BCG.", None),  # listed abbreviation
        ("Answer: ABG", None),
        ("The answer is CDH.", None),
        ("Answer: FACE", None),
        ("Answer: ADH.", None),
        ("Answer: BDF", "BDF"),
        ("答案：ABG", "ABG"),
    ],
)
def test_letter_runs_with_long_option_lists(text: str, expected: str | None) -> None:
    assert extract_choice(text, options="ABCDEFGH") == expected


def test_evidence_is_the_deciding_span() -> None:
    assert extract_choice_detailed("Reasoning first.\nThe answer is B.").evidence == "answer is B"
    assert extract_choice_detailed("\\boxed{B}").evidence == "\\boxed{B}"
    assert extract_choice_detailed("  (B) ").evidence == "(B)"
    assert extract_choice_detailed("**Answer: C**").evidence == "Answer: C"
    assert extract_choice_detailed("<answer>B</answer>").evidence == "<answer>B</answer>"
    assert extract_choice_detailed("答案：Ｂ").evidence == "答案：Ｂ"
    assert extract_choice_detailed("The answer is A. Wait, actually C is correct.").evidence == "C is correct"
    assert extract_choice_detailed("I cannot provide medical advice.").evidence == "I cannot provide"
    assert extract_choice_detailed("I would choose B, but on reflection... Final: C").evidence == "Final: C"
    assert extract_choice_detailed("答案不是A，是C").evidence == "答案不是A，是C"


OPTION_TEXTS = {
    "A": "Lumbar disc herniation",
    "B": "Lumbar spinal stenosis",
    "C": "Spinal stenosis",
    "D": "Spondylolisthesis",
    "E": "No",
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The answer is lumbar spinal stenosis", "B"),  # shadows the shorter "spinal stenosis"
        ("Most consistent with spondylolisthesis.", "D"),
        ("腰椎滑脱 is not in the options", None),
        ("It is either lumbar disc herniation or spondylolisthesis.", None),
        ("Not spondylolisthesis; lumbar disc herniation.", "A"),
        ("No idea.", None),  # option text "No" is too short to quote
        ("I cannot provide medical advice about lumbar spinal stenosis.", None),
        ("Answer: C, spinal stenosis", "C"),  # a letter always wins over quoted text
        # negated or ruled-out quotes commit to nothing
        ("Spondylolisthesis is ruled out.", None),
        ("I don't think it's spondylolisthesis", None),
        ("I don’t think it’s spondylolisthesis.", None),
        ("It is unlikely to be spondylolisthesis.", None),
        ("Spondylolisthesis is excluded.", None),
        ("Spondylolisthesis can be excluded.", None),
        ("Spondylolisthesis is unlikely.", None),
        ("Rather than spondylolisthesis, consider imaging first.", None),
        ("Spondylolisthesis is ruled out; this is lumbar spinal stenosis.", "B"),
        ("This is spondylolisthesis, not lumbar disc herniation.", "D"),
        ("Not lumbar disc herniation but spondylolisthesis.", "D"),
    ],
)
def test_option_texts(text: str, expected: str | None) -> None:
    assert extract_choice(text, option_texts=OPTION_TEXTS) == expected
    if expected is None:
        assert extract_choice(text) is None


ZH_OPTION_TEXTS = {"A": "腰椎间盘突出症", "B": "腰椎管狭窄症", "C": "腰椎滑脱"}


def test_option_texts_in_chinese() -> None:
    result = extract_choice_detailed("考虑为腰椎管狭窄症。", options="ABC", option_texts=ZH_OPTION_TEXTS)
    assert result == ChoiceResult("B", "answered", "腰椎管狭窄症")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("不考虑腰椎滑脱", None),
        ("腰椎滑脱可排除。", None),
        ("并非腰椎间盘突出症", None),
        ("无腰椎滑脱", None),
        ("排除腰椎滑脱，考虑腰椎管狭窄症", "B"),
        ("考虑腰椎滑脱", "C"),
    ],
)
def test_negated_option_texts_in_chinese(text: str, expected: str | None) -> None:
    assert extract_choice(text, options="ABC", option_texts=ZH_OPTION_TEXTS) == expected


def test_statuses_are_the_documented_set() -> None:
    seen = {extract_choice_detailed(t).status for t in ("B", "无法确定", "", "It could be A or B")}
    assert seen == set(STATUSES)


@pytest.mark.parametrize("options", ["", "AB1", "AAB", "ÄB", None])
def test_bad_options_raise(options: object) -> None:
    with pytest.raises(ValueError, match="options"):
        extract_choice("B", options=options)  # type: ignore[arg-type]


def test_bad_inputs_raise() -> None:
    with pytest.raises(TypeError, match="text"):
        extract_choice(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="option_texts"):
        extract_choice("lumbar", option_texts={"A": None})  # type: ignore[dict-item]
