"""Parsing a REST request body as TF Serving does (rapidjson's rules and error wording), with
the limits rapidjson lacks: nesting depth, numbers too big for a double, 100,000-digit integers.
"""

from __future__ import annotations

import json

from .status import ServingError, invalid

# Python's json error wording -> rapidjson's, as TF Serving reports parse errors.
_PARSE_ERRORS = {
    "Expecting value": "Invalid value.",
    "Expecting property name enclosed in double quotes": "Missing a name for object member.",
    "Expecting ':' delimiter": "Missing a colon after a name of object member.",
    "Expecting ',' delimiter": "Missing a comma or '}' after an object member.",
    "Extra data": "The document root must not be followed by other values.",
    "Unterminated string starting at": "Missing a closing quotation mark in string.",
}


# numpy arrays have at most 64 dimensions; TF allows more, but no image model needs them.
MAX_RANK = 64


class _NumberTooBig(ValueError):
    pass


def _parse_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _NumberTooBig(text)
    return value


def _parse_int(text: str):
    # Integers beyond 64 bits become doubles, as rapidjson stores them; this also keeps
    # Python from parsing a 100,000-digit integer (slow, and refused past 4,300 digits).
    if len(text.lstrip("-")) <= 20:
        return int(text)
    return _parse_float(text)


def dump(value) -> str:
    """Compact JSON of a value, cut short: TF echoes whole documents, which may be megabytes."""
    try:
        text = json.dumps(value)
    except RecursionError:  # a document nested almost as deep as the parser allows
        text = json.dumps(str(value)[:256])
    return text if len(text) <= 256 else text[:256] + "..."


def json_type(v) -> str:
    if v is None:
        return "Null"
    if isinstance(v, bool):
        return "True" if v else "False"
    return {dict: "Object", list: "Array", str: "String"}.get(type(v), "Number")


def format_error(doc, *parts) -> ServingError:
    return invalid(f"JSON Value: {dump(doc)} " + "".join(parts))


def parse_request(body: bytes) -> dict:
    if not body:
        raise invalid("JSON Parse error: The document is empty")
    try:
        doc = json.loads(body, parse_float=_parse_float, parse_int=_parse_int)
    except UnicodeDecodeError as e:
        raise invalid(
            f"JSON Parse error: Invalid encoding in string. at offset: {e.start}"
        ) from None
    except json.JSONDecodeError as e:
        reason = _PARSE_ERRORS.get(e.msg, e.msg + ".")
        raise invalid(f"JSON Parse error: {reason} at offset: {e.pos}") from None
    except _NumberTooBig as e:
        raise invalid(
            f"JSON Parse error: Number too big to be stored in double: {e.args[0][:64]}"
        ) from None
    except RecursionError:
        # Python's parser stops at ~1,000 levels; rapidjson would recurse until it crashed.
        raise invalid("JSON Parse error: The document is nested too deeply.") from None
    if not isinstance(doc, dict):
        raise format_error(doc, "Is not object")
    name = doc.get("signature_name", "")
    if not isinstance(name, str):
        raise format_error(
            doc, "not formatted correctly. 'signature_name' key must be a string value."
        )
    return doc
