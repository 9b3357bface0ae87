"""Chinese text uses full-width punctuation: ，：；（）？！ and “”, never , : ; ( ) ? ! or " next to Chinese.

The rule is exact so that it never flags what is not prose:
- a half-width mark is an error when the nearest non-blank character on either side of it is Chinese
  (a CJK ideograph, or full-width punctuation such as ）or “), e.g. ``请联系市产改办,谢谢``,
  ``得分: 5``, ``任务(已退回)``, ``提交?``; a mark standing alone between blanks is a symbol, not
  punctuation (``按 ? 查看快捷键`` names the ? key);
- a sentence ending in a half-width full stop or ``...`` after Chinese is an error (``已保存.``);
  ``1.5``, ``ent0001.pdf`` or ``A/B`` are not Chinese prose and are left alone;
- placeholders (``%(name)s``, ``%s``, ``{name}``, ``{{ var }}``) stand for a non-Chinese word, and template tags
  and HTML tags are not text, so ``%(count)s, %(total)s`` is fine but ``共%(count)s项,`` is not.

Checked: every msgstr of the zh_Hans catalogue, the text and attribute values of templates/, the string
literals of the portal's Python modules (outside tests/ and migrations) and of static/js.
"""

import io
import re
import tokenize
from pathlib import Path

import pytest
from django.conf import settings

BASE = Path(settings.BASE_DIR)
PO = BASE / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"

# What counts as Chinese: ideographs, CJK and full-width punctuation, and the curly quotes/ellipsis/dash
# Chinese prose uses.
CJK = (
    "\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\u201c\u201d\u2018\u2019\u2026\u2014"
)
IS_CJK = re.compile(f"[{CJK}]")
HAS_IDEOGRAPH = re.compile("[\u3400-\u4dbf\u4e00-\u9fff]")
HALF_WIDTH = {",": "，", ":": "：", ";": "；", "(": "（", ")": "）", "?": "？", "!": "！", '"': "“ ”"}

# Placeholders become an opaque, non-Chinese word.
PLACEHOLDER = re.compile(r"%\([\w.]+\)[-#0 +]*\d*(?:\.\d+)?[sdifrxXeEgG%]|%[sdif%]|\{\{.*?\}\}|\{[\w.]*\}")
WORD = "\ue000"  # a private-use character: neither Chinese nor a mark


def punctuation_errors(text, check_quotes=True):
    """Each half-width mark used as Chinese punctuation in ``text``, as (mark, excerpt, full-width form)."""
    text = PLACEHOLDER.sub(WORD, text)
    errors = []

    def blank(i, step):
        j = i + step
        return not 0 <= j < len(text) or text[j] in " \t\n\u2029"

    def neighbour(i, step):
        j = i + step
        while 0 <= j < len(text) and text[j] in " \t\n":
            j += step
        return text[j] if 0 <= j < len(text) else ""

    def excerpt(i, width=1):
        return text[max(0, i - 12) : i + width + 12].replace(WORD, "…")

    marks = set(HALF_WIDTH) - (set() if check_quotes else {'"'})
    for i, char in enumerate(text):
        if char not in marks or (blank(i, -1) and blank(i, 1)):  # a mark between blanks is a symbol: 按 ? 键
            continue
        if IS_CJK.match(neighbour(i, -1)) or IS_CJK.match(neighbour(i, 1)):
            errors.append((char, excerpt(i), HALF_WIDTH[char]))
    # A full stop or an ASCII ellipsis that ends Chinese text: after Chinese, before a blank, Chinese or the end.
    for match in re.finditer(r"(?<=[" + CJK + r"])\s*(\.{3}|\.)(?=\s|$|[" + CJK + r"])", text):
        errors.append(
            (match.group(1), excerpt(match.start(1), len(match.group(1))), "……" if len(match.group(1)) == 3 else "。")
        )
    return errors


# --- where Chinese text is ----------------------------------------------------------------------------------


ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}


def _unquote(chunk):
    joined = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', chunk))
    return re.sub(r"\\(.)", lambda m: ESCAPES.get(m.group(1), m.group(1)), joined)


def catalogue_strings():
    """(msgid, msgstr) for every translated message, plural forms included."""
    text = PO.read_text(encoding="utf-8")
    for entry in text.split("\n\n"):
        msgid = re.search(r'^msgid ((?:".*"\n?)+)', entry, re.M)
        if not msgid:
            continue
        for msgstr in re.finditer(r'^msgstr(?:\[\d+\])? ((?:".*"\n?)+)', entry, re.M):
            yield _unquote(msgid.group(1)), _unquote(msgstr.group(1))


TEMPLATE_SKIP = re.compile(
    r"\{#.*?#\}|\{%\s*comment\s*%\}.*?\{%\s*endcomment\s*%\}|<script\b.*?</script>|<style\b.*?</style>", re.S
)
TEMPLATE_TAG = re.compile(r"\{%.*?%\}", re.S)
HTML_TAG = re.compile(r"<[^>]*>", re.S)
BLOCK_TAG = re.compile(
    r"</?(?:p|div|section|article|header|footer|nav|main|aside|ul|ol|li|dl|dt|dd|table|thead|tbody|tr|td|th|"
    r"caption|figure|figcaption|h[1-6]|br|hr|form|fieldset|legend|label|select|option|button|details|summary)\b[^>]*>",
    re.I,
)
BLOCK = "\u2029"  # the edge of a block (a cell, a paragraph): text on either side is not adjacent
CODE = re.compile(r"<(kbd|code|samp)\b[^>]*>.*?</\1>", re.S | re.I)
ATTRIBUTE = re.compile(r'=\s*"([^"]*)"|=\s*\'([^\']*)\'')


TRANSLATED = re.compile(
    r"\{%\s*(?:translate|trans)\s.*?%\}"
    r"|\{%\s*blocktrans(?:late)?\b.*?%\}.*?\{%\s*endblocktrans(?:late)?\s*%\}",
    re.S,
)
TRANSLATION = "译"  # what a translated string shows: Chinese text


def _translated(match):
    tag = match.group(0)
    opening = tag.split("%}", 1)[0]
    return "" if re.search(r"\s(?:as|asvar)\s", opening) else TRANSLATION


def template_texts(source):
    """The text a template shows: its prose (tags are transparent, a translated string is Chinese) and each
    attribute value on its own. ``{% translate "Ties" %}: {{ value }}`` shows 并列排名方式: …, a half-width colon
    after Chinese."""
    source = TEMPLATE_SKIP.sub(" ", source)
    source = TRANSLATED.sub(_translated, source)
    source = TEMPLATE_TAG.sub("", source)
    texts = []
    source = CODE.sub(WORD, source)  # a key or a code is a word: 按 <kbd>?</kbd> 查看快捷键
    for tag in HTML_TAG.findall(source):
        texts += [a or b for a, b in ATTRIBUTE.findall(tag)]
    texts.append(HTML_TAG.sub("", BLOCK_TAG.sub(BLOCK, source)))
    return texts


def chinese_prose(literal):
    """More ideographs than ASCII letters: Chinese text, not English prose quoting a Chinese term."""
    return len(HAS_IDEOGRAPH.findall(literal)) > len(re.findall(r"[A-Za-z]", literal))


def python_strings(source):
    """The string literals of a module that are Chinese text; docstrings and English prose that quotes a Chinese
    term (``"the demo city 徐州市: 11 county-level units"``) are left out."""
    statement_start = True
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
            statement_start = True
            continue
        if token.type in (tokenize.COMMENT, tokenize.NL):
            continue
        docstring = statement_start and token.type == tokenize.STRING
        statement_start = False
        if docstring:
            continue
        if token.type in (tokenize.STRING, getattr(tokenize, "FSTRING_MIDDLE", -1)) and chinese_prose(token.string):
            yield token.string


JS_STRING = re.compile(r"'((?:[^'\\\n]|\\.)*)'|\"((?:[^\"\\\n]|\\.)*)\"|`((?:[^`\\]|\\.)*)`")


def js_strings(source):
    for match in JS_STRING.finditer(source):
        literal = next(g for g in match.groups() if g is not None)
        if HAS_IDEOGRAPH.search(literal):
            yield literal


def _portal_files(pattern):
    skip = {".venv", "tests", "migrations", "node_modules", "vendor", "staticfiles"}
    return sorted(p for p in BASE.glob(pattern) if not skip.intersection(p.relative_to(BASE).parts))


def _report(problems):
    return "half-width punctuation in Chinese text:\n" + "\n".join(
        f"  {where}: {mark!r} in «{excerpt}» (use {full})" for where, mark, excerpt, full in problems
    )


# --- the rule itself ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, marks",
    [
        ("您的账号尚未分配角色,请联系市产改办。", [","]),
        ("得分: %(score)s", [":"]),
        ("任务(已退回)", ["(", ")"]),
        ("(县区)", ["(", ")"]),
        ("确定删除?", ["?"]),
        ("已保存!", ["!"]),
        ('点击"提交"', ['"', '"']),
        ("共%(count)s项;已审核", [";"]),
        ("张三（徐州云集港口有限公司）:", [":"]),
        ("已保存.", ["."]),
        ("加载中...", ["..."]),
        ("<strong>得分</strong>", []),
        ("%(name)s: 已退回", [":"]),
    ],
)
def test_half_width_marks_in_chinese_are_found(text, marks):
    assert [mark for mark, _, _ in punctuation_errors(text)] == marks


@pytest.mark.parametrize(
    "text",
    [
        "您的账号尚未分配角色，请联系市产改办。",
        "%(done)s/%(total)s 项，完成率 %(rate)s%%",
        "得分 1.5 分",
        "请上传 PDF、JPG 或 PNG（不超过 10 MB）。",
        "%(name)s, %(other)s",
        "Excel (.xlsx)",
        "ent0001.pdf 已上传",
        "https://example.com/a?b=1 是链接",
        "每页 {count} 条",
        "（%(count)s）",
        "A/B 比率",
        "按 ? 查看快捷键",
    ],
)
def test_what_is_not_chinese_prose_is_left_alone(text):
    assert punctuation_errors(text) == []


def test_the_report_names_the_string_and_the_mark():
    [(mark, excerpt, full)] = punctuation_errors("您的账号尚未分配角色,请联系市产改办。")
    assert (mark, full) == (",", "，") and "分配角色,请联系" in excerpt


def test_templates_are_read_as_text_and_attributes():
    texts = template_texts(
        '{% load i18n %}<label title="例如:邳州市">{% trans "Name" %}</label><p>共 {{ n }} 项(含退回)</p>'
        "<script>const a = b ? '是' : '否';</script>{# 注释,不显示 #}"
        '<p>{% translate "Ties" %}: {{ tie }}</p>{% translate "Rule" as rule %}{{ rule }}, {{ x }}'
        "<p>{% blocktranslate %}Score {{ n }}{% endblocktranslate %} (0–100)</p>"
        '<dl><dt><kbd>?</kbd></dt><dd>{% translate "Shortcuts" %}</dd></dl><td>{% translate "Done" %}</td><td>(1)</td>'
    )
    found = [mark for text in texts for mark, _, _ in punctuation_errors(text, check_quotes=False)]
    assert found == [":", "(", ")", ":", "("]


# --- the portal --------------------------------------------------------------------------------------------


def test_catalogue_msgstrs_use_full_width_punctuation():
    problems = [
        (f"msgid {msgid!r}", mark, excerpt, full)
        for msgid, msgstr in catalogue_strings()
        for mark, excerpt, full in punctuation_errors(msgstr)
    ]
    assert not problems, _report(problems)


def test_the_catalogue_is_read_whole():
    strings = dict(catalogue_strings())
    assert len(strings) > 500
    assert strings["Reform check-in portal"] == "产改打卡管理系统"


def test_templates_use_full_width_punctuation():
    problems = [
        (path.relative_to(BASE), mark, excerpt, full)
        for path in _portal_files("templates/**/*.html") + _portal_files("templates/**/*.txt")
        for text in template_texts(path.read_text(encoding="utf-8"))
        for mark, excerpt, full in punctuation_errors(text, check_quotes=False)
    ]
    assert not problems, _report(problems)


def test_python_and_javascript_literals_use_full_width_punctuation():
    problems = [
        (path.relative_to(BASE), mark, excerpt, full)
        for path in _portal_files("**/*.py")
        for literal in python_strings(path.read_text(encoding="utf-8"))
        for mark, excerpt, full in punctuation_errors(literal, check_quotes=False)
    ]
    problems += [
        (path.relative_to(BASE), mark, excerpt, full)
        for path in _portal_files("static/js/**/*.js")
        for literal in js_strings(path.read_text(encoding="utf-8"))
        for mark, excerpt, full in punctuation_errors(literal)
    ]
    assert not problems, _report(problems)
