"""The API's JSON parser: DRF's, refusing what the standard library would let through.

Python's json module recurses once per nesting level, so a body of 100,000 "[" ended in
RecursionError (a 500, on the unauthenticated token endpoint too); it also decodes a lone
surrogate ("\\ud800") into a str that PostgreSQL's encoder refuses later, and NaN/Infinity into
floats no field of ours takes. Each is a ParseError (400) with a Chinese message here, before
any view sees the data.
"""

import codecs
import json
import re

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# No request of the API nests more than two levels; 32 leaves room and stays far from
# the interpreter's recursion limit.
MAX_JSON_DEPTH = 32

# A JSON string (with its escapes), and a pair of brackets with nothing but scalars inside.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")
_INNERMOST_PAIR = re.compile(r"\[\]|\{\}")
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _too_deep(text, limit=MAX_JSON_DEPTH):
    """Whether `text` nests arrays/objects deeper than `limit`, found without recursing:
    strings are removed, then `limit` passes each remove the innermost bracket pairs (each
    pass is one regular-expression scan in C). Unbalanced brackets are left to json.loads."""
    brackets = _NOT_A_BRACKET.sub("", _STRING.sub("", text))
    for _pass in range(limit):
        if not brackets:
            return False
        brackets, removed = _INNERMOST_PAIR.subn("", brackets)
        if not removed:
            return False  # unbalanced: json.loads reports where
    return bool(_INNERMOST_PAIR.search(brackets))


def _refuse_constant(name):
    raise ParseError(_("The JSON body contains %(value)s, which is not a number.") % {"value": name})


def _check_text(value):
    """Lone surrogates (in keys or values) anywhere in the parsed data: ParseError."""
    if isinstance(value, str):
        if _LONE_SURROGATE.search(value):
            raise ParseError(_("The JSON body contains an invalid character (a lone surrogate)."))
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key)
            _check_text(item)
    elif isinstance(value, list):
        for item in value:
            _check_text(item)


def parse_json_text(text):
    """`text` as JSON data, or ParseError (Chinese) for too deep, invalid or hostile JSON."""
    if _too_deep(text):
        raise ParseError(_("The JSON body is nested too deeply (at most %(depth)d levels).") % {"depth": MAX_JSON_DEPTH})
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as error:
        raise ParseError(_("The JSON body is not valid JSON: %(error)s") % {"error": error}) from None
    _check_text(data)
    return data


class PortalJSONParser(JSONParser):
    """REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]: JSON with a depth limit, no lone surrogates,
    no NaN/Infinity; errors in Chinese."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.getreader(encoding)(stream).read() if stream is not None else ""
        except (UnicodeDecodeError, LookupError):
            raise ParseError(_("The JSON body is not valid %(encoding)s text.") % {"encoding": encoding}) from None
        return parse_json_text(text)
