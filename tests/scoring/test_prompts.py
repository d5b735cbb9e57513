"""The one prompt-file format and loader (spinemed.prompts): versions, errors with file and line,
byte-exact sections, prompt roots, and JSON extraction from model output."""

from __future__ import annotations

import pytest

from spinemed.prompts import (
    EVAL_PROMPT_DIR,
    JUDGE_PROMPT_DIR,
    OutputParseError,
    PromptFileError,
    compile_template,
    extract_fenced_json,
    json_objects,
    load_prompt,
    load_prompt_folder,
    load_prompt_version,
    parse_json_object,
    prompt_set_digest,
    resolve_prompt_root,
)

GOOD = '---\nid: greet\nversion: "3"\ndescription: says hello\n---\n## system\nprompt: greet@3\n## user\nHello {{ name }}!\n'


def _write(tmp_path, text, name="p.md"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_load_reads_id_version_description_and_exact_sections(tmp_path):
    p = load_prompt(_write(tmp_path, GOOD))
    assert (p.id, p.version, p.description, p.key) == ("greet", "3", "says hello", "greet@3")
    assert p.system == "prompt: greet@3\n" and p.user == "Hello {{ name }}!\n"  # byte for byte, header lines excluded
    assert len(p.sha256) == 64 and p.hash == p.sha256[:16]
    assert p.render(name="Ann") == [{"role": "system", "content": "prompt: greet@3"}, {"role": "user", "content": "Hello Ann!"}]
    assert p.render_section("user", name="Ann") == "Hello Ann!\n"  # the trailing newline is kept
    # An integer version reads as text; a user-only prompt has just its section.
    q = load_prompt(_write(tmp_path, "---\nid: q\nversion: 2\n---\n## user\n{{ x }}", "q.md"), sections=("user",))
    assert q.version == "2" and q.sections == (("user", "{{ x }}"),) and q.render(x=1) == [{"role": "user", "content": "1"}]


def test_render_is_strict_and_does_not_escape(tmp_path):
    p = load_prompt(_write(tmp_path, GOOD))
    assert p.render(name="<b>&</b>")[1]["content"] == "Hello <b>&</b>!"
    with pytest.raises(Exception, match="name"):
        p.render()


@pytest.mark.parametrize("text,line,msg", [
    ("## system\nx\n## user\ny\n", 1, "must start with a '---' front-matter block"),
    ("---\nid: x\nversion: 1\n## system\n", 1, "not closed"),
    ("---\nid: x\n---\n## system\nhi\n## user\nyo\n", 1, "lacks 'version'"),
    ("---\nversion: 1\n---\n## system\nhi\n## user\nyo\n", 1, "lacks 'id'"),
    ("---\nid: x\nversion: [1\n---\n## system\n", 4, "not valid YAML"),
    ("---\n- a\n- b\n---\n## system\n", 2, "must be a mapping"),
    ("---\nid: x\nversion: 1\n---\n## system\nhi\n", 5, r"needs the sections ## system, ## user; missing ## user"),
    ("---\nid: x\nversion: 1\n---\nstray\n## system\nhi\n## user\nyo\n", 5, "text outside a section"),
    ("---\nid: x\nversion: 1\n---\n## system\nhi\n## user\nyo\n## user\nagain\n", 9, "a second '## user' section"),
    ("---\nid: x\nversion: 1\n---\n## system\nok\n## user\nline one\n{% if x %}never closed\n", 9, "template error"),
    ("---\nid: x\nversion: 1\n---\n## system\n{{ oops\n## user\nyo\n", 6, "template error"),
])
def test_bad_file_errors_name_file_and_line(tmp_path, text, line, msg):
    path = _write(tmp_path, text)
    with pytest.raises(PromptFileError, match=msg) as err:
        load_prompt(path)
    assert str(err.value).startswith(f"{path}:{line}: ") and (err.value.path, err.value.line) == (str(path), line)
    assert isinstance(err.value, ValueError)


def test_unexpected_section_for_a_user_only_prompt(tmp_path):
    path = _write(tmp_path, "---\nid: x\nversion: v1\n---\n## system\nhi\n## user\nyo\n")
    with pytest.raises(PromptFileError, match=r"p.md:5: unexpected '## system' section"):
        load_prompt(path, sections=("user",))


def test_folder_load_rejects_a_repeated_id(tmp_path):
    _write(tmp_path, GOOD, "a.md")
    assert set(load_prompt_folder(tmp_path)) == {"greet"}
    _write(tmp_path, GOOD, "b.md")
    with pytest.raises(PromptFileError, match=r"b.md:1: duplicate prompt id 'greet'"):
        load_prompt_folder(tmp_path)


def test_version_folder_checks_presence_and_the_front_matter_version(tmp_path):
    (tmp_path / "v1").mkdir()
    _write(tmp_path / "v1", GOOD.replace('version: "3"', "version: v1"), "a.md")
    assert set(load_prompt_version(tmp_path, "v1", ["a.md"], what="test prompt")) == {"a.md"}
    with pytest.raises(FileNotFoundError, match=r"test prompt .*b.md is missing \(a version needs a.md, b.md\)"):
        load_prompt_version(tmp_path, "v1", ["a.md", "b.md"], what="test prompt")
    with pytest.raises(FileNotFoundError, match=r"test prompt version 'v2' not found: .* \(prompt versions in .*, available: \['v1'\]\)"):
        load_prompt_version(tmp_path, "v2", ["a.md"], what="test prompt")
    (tmp_path / "v2").mkdir()
    _write(tmp_path / "v2", GOOD.replace('version: "3"', "version: v1"), "a.md")
    with pytest.raises(PromptFileError, match=r"a.md:1: front matter says version 'v1' but the file is in folder 'v2'"):
        load_prompt_version(tmp_path, "v2", ["a.md"], what="test prompt")


def test_every_prompt_of_the_checkout_loads():
    for path in sorted(EVAL_PROMPT_DIR.glob("v*/*.md")):
        p = load_prompt(path, sections=("user",))
        assert p.version == path.parent.name and p.id == path.stem
    for path in sorted(JUDGE_PROMPT_DIR.glob("v*/*.md")):
        assert load_prompt(path).version == path.parent.name


def test_prompt_set_digest_is_order_and_name_sensitive():
    a = prompt_set_digest([("x.md", "1"), ("y.md", "2")])
    assert a == prompt_set_digest([("x.md", "1"), ("y.md", "2")])
    assert a != prompt_set_digest([("y.md", "2"), ("x.md", "1")]) and a != prompt_set_digest([("x.md", "12"), ("y.md", "")])


def test_one_environment_compiles_and_caches():
    assert compile_template("{{ a }}\n") is compile_template("{{ a }}\n")
    assert compile_template("{{ a }}\n").render(a="<x>") == "<x>\n"


def test_resolve_prompt_root(tmp_path, monkeypatch):
    monkeypatch.delenv("SPINEMED_TEST_PROMPTS", raising=False)
    assert resolve_prompt_root(None, "SPINEMED_TEST_PROMPTS", tmp_path, what="test prompt", layout="x/") == tmp_path
    assert resolve_prompt_root(str(tmp_path), "SPINEMED_TEST_PROMPTS", tmp_path / "no", what="t", layout="x/") == tmp_path
    monkeypatch.setenv("SPINEMED_TEST_PROMPTS", str(tmp_path / "env"))
    with pytest.raises(FileNotFoundError, match=r"env \(\$SPINEMED_TEST_PROMPTS\) does not exist"):
        resolve_prompt_root(None, "SPINEMED_TEST_PROMPTS", tmp_path, what="test prompt", layout="x/")


# ---------------------------------------------------------------- JSON from model output

@pytest.mark.parametrize("text,expected", [
    ('{"a": 1}', {"a": 1}),
    ('  {"a": 1}\n', {"a": 1}),
    ('Here you go:\n```json\n{"a": 2}\n```\nDone.', {"a": 2}),
    ('```\n{"a": 5}\n```', {"a": 5}),
    ('Sure! {"a": 3} hope this helps', {"a": 3}),
    ('{"a": {"b": [1, 2]}, "c": "}"}', {"a": {"b": [1, 2]}, "c": "}"}),
    ('[{"a": 4}]', {"a": 4}),  # an array around one object: the object is read
])
def test_parse_json_object_accepts_one_object(text, expected):
    assert parse_json_object(text) == expected


@pytest.mark.parametrize("text,msg", [
    ("", "empty output"), (None, "empty output"), ("   ", "empty output"),
    ("no json here", "no JSON object"), ("[1, 2]", "no JSON object"), ("} {", "no JSON object"),
    ('{"a": 1,}', "invalid JSON: .* at line 1 column"),
    ('{"a": 1} and {"b": 2}', "invalid JSON: Extra data"),
    ('```json\n{"a":1}\n```\n```json\n{"b":2}\n```', "2 fenced blocks"),
])
def test_parse_json_object_rejects_garbage(text, msg):
    with pytest.raises(OutputParseError, match=msg):
        parse_json_object(text)


@pytest.mark.parametrize("text,expected", [
    ('{"a": 1}', [{"a": 1}]),
    ('prose {"a": 1} more prose', [{"a": 1}]),
    ('```json\n{"a": 1}\n```', [{"a": 1}]),
    ('{"a": 1} and {"b": 2}', [{"a": 1}, {"b": 2}]),
    ('{"a": {"b": 1}}', [{"a": {"b": 1}}]),  # nested objects are not counted twice
    ('{broken {"a": 1}', [{"a": 1}]),  # a bad brace is skipped
    ('[1, 2] "x"', []),
    ("", []),
    ('{"a": 1', []),
])
def test_json_objects_finds_every_top_level_object(text, expected):
    assert json_objects(text) == expected


def test_extract_fenced_json_reads_a_labelled_block():
    text = 'FACTS:\n```json\n{"a": [1, "x"]}\n```\nDRAFT: ```json\n{"b": 2}\n```'
    assert extract_fenced_json(text, "FACTS") == {"a": [1, "x"]}
    assert extract_fenced_json(text, "DRAFT") == {"b": 2}
    with pytest.raises(KeyError, match="no CRITERIA block"):
        extract_fenced_json(text, "CRITERIA")
