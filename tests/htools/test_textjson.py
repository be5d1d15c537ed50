"""JSON read as Ganeti's Text.JSON reads it (the recorded LUXI/RAPI messages cover the rest)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from ganeti_agent.htools.textjson import (
    JSObject,
    JSONError,
    decode_strict,
    field_of,
    from_obj,
    pretty,
    read_int,
    read_string,
    show_value,
)


def test_objects_keep_order_and_the_first_duplicate_wins() -> None:
    value = decode_strict('{"b": 1, "a": [true, null, "x"], "b": 2}')
    assert isinstance(value, JSObject)
    assert value.keys() == ["b", "a", "b"]
    assert from_obj(value, "b", read_int) == 1


def test_numbers_are_exact_and_ints_round_half_even() -> None:
    assert decode_strict("[0.1, 1e2, -2.5E-1]") == [Fraction(1, 10), 100, Fraction(-1, 4)]
    assert [read_int(Fraction(n, 2)) for n in (1, 3, 5, -1)] == [0, 2, 2, 0]


@pytest.mark.parametrize(
    ("text", "message"),
    [(' {"a": 1}', "Invalid JSON: a JSON text a serialized object or array at the top level."),
     ('{"a": 1} x', 'Invalid tokens at end of JSON string: "x"'),
     ('{"a" 1}', "Malformed JSON labelled field:  1}"),
     ('[1, tru]', "Unable to parse JSON Bool: tru]"),
     ('[1.e5]', "Unable to parse JSON array: unterminated array: e5]"),
     ('[1e]', "Unable to parse JSON exponential: ]"),
     ('["a\\u00zz"]', 'Unable to parse JSON String: invalid hex: [(0,"zz"'),
     ('["a\\uzzzz"]', "Unable to parse JSON String: invalid hex: []"),
     ('["a\nb"]', "Illegal unescaped character in string: \nb\"]"),
     ('[nul]', "Malformed JSON: invalid token in this context nul]")],
)  # fmt: skip
def test_decoding_errors(text: str, message: str) -> None:
    with pytest.raises(JSONError) as caught:
        decode_strict(text)
    assert str(caught.value) == message


def test_show_and_pretty_quote_values_as_haskell() -> None:
    value = decode_strict('[-5, 0.5, "a\\"b", {"k": false}, null]')
    assert isinstance(value, list)
    assert show_value(value) == (
        "JSArray [JSRational False ((-5) % 1),JSRational False (1 % 2),"
        'JSString (JSONString {fromJSString = "a\\"b"}),'
        'JSObject (JSONObject {fromJSObject = [("k",JSBool False)]}),JSNull]'
    )
    assert pretty(value) == '[-5, 0.5, "a\\"b", {"k": false}, null]'


def test_record_fields_name_themselves_in_errors() -> None:
    record = decode_strict('{"name": 5}')
    assert isinstance(record, JSObject)
    with pytest.raises(JSONError, match=r"^Can't parse value for 'name': Unable to read String$"):
        field_of(record, "name", read_string)
    with pytest.raises(JSONError, match=r"^key 'name': Unable to read String$"):
        from_obj(record, "name", read_string)


def test_nesting_is_bounded() -> None:
    assert decode_strict("[" * 128 + "]" * 128) is not None
    with pytest.raises(JSONError, match=r"^JSON nested deeper than 128 levels$"):
        decode_strict("[" * 129 + "]" * 129)
    with pytest.raises(JSONError, match=r"^JSON nested deeper than 128 levels$"):
        decode_strict('{"a":' * 100_000)
