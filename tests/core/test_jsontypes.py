"""The JSON narrowing helpers: each accepts its shape and names the place otherwise."""

from __future__ import annotations

import pytest

from ganeti_agent.core.jsontypes import (
    JSONShapeError,
    expect_array,
    expect_bool,
    expect_int,
    expect_number,
    expect_object,
    expect_str,
    member,
)


def test_each_reader_returns_its_shape() -> None:
    assert expect_object({"a": 1}, "x") == {"a": 1}
    assert expect_array([1], "x") == [1]
    assert expect_str("s", "x") == "s"
    assert expect_int(3, "x") == 3
    assert expect_number(2.5, "x") == 2.5
    assert expect_bool(False, "x") is False
    assert member({"k": None}, "k", "x") is None


@pytest.mark.parametrize(
    ("reader", "value", "message"),
    [
        (expect_object, [], "cfg.data: expected an object, got array"),
        (expect_array, {}, "cfg.data: expected an array, got object"),
        (expect_str, 1, "cfg.data: expected a string, got number"),
        (expect_int, True, "cfg.data: expected an integer, got boolean"),
        (expect_int, 1.5, "cfg.data: expected an integer, got number"),
        (expect_number, "1", "cfg.data: expected a number, got string"),
        (expect_number, False, "cfg.data: expected a number, got boolean"),
        (expect_bool, None, "cfg.data: expected a boolean, got null"),
    ],
)
def test_wrong_shape_names_the_place(reader: object, value: object, message: str) -> None:
    assert callable(reader)
    with pytest.raises(JSONShapeError) as raised:
        reader(value, "cfg.data")
    assert str(raised.value) == message


def test_missing_member_names_the_key() -> None:
    with pytest.raises(JSONShapeError, match=r"^node: missing member 'name'$"):
        member({}, "name", "node")
