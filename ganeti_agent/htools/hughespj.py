"""Haskell's ``Text.PrettyPrint.HughesPJ`` layout, for the JSON values Ganeti quotes.

Ganeti's conversion errors quote a value with ``show (pp_value v)``
(``Text.JSON.Pretty``): ``fsep`` fills items into lines of at most 100
columns, with at most 67 characters after a line's indentation (``style``:
line length 100, 1.5 ribbons). To print the same line breaks, this module
follows the library's algorithm: documents are reduced lazily (both
alternatives of a choice are built only when looked at), ``best`` keeps the
first alternative whose first line fits, ``display`` renders it.

Documents are tuples tagged ``E`` (empty), ``ND`` (no document), ``NA``
(nil above), ``TB`` (text beside), ``N`` (nest), ``U`` (union), ``B``
(beside); a ``_Lazy`` may stand for any of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal, TypeAlias

LINE_LENGTH = 100
RIBBON = round(LINE_LENGTH / 1.5)

Empty: TypeAlias = tuple[Literal["E"]]
NoDoc: TypeAlias = tuple[Literal["ND"]]
NilAbove: TypeAlias = "tuple[Literal['NA'], Doc]"
TextBeside: TypeAlias = "tuple[Literal['TB'], str, int, Doc]"
Nest: TypeAlias = "tuple[Literal['N'], int, Doc]"
Union: TypeAlias = "tuple[Literal['U'], Doc, Doc]"
Beside: TypeAlias = "tuple[Literal['B'], Doc, bool, Doc]"
Reduced: TypeAlias = "Empty | NoDoc | NilAbove | TextBeside | Nest | Union | Beside"
"""A document whose outermost constructor is known (not a ``_Lazy``)."""
Doc: TypeAlias = "Reduced | _Lazy"

EMPTY: Empty = ("E",)
NO_DOC: NoDoc = ("ND",)


class _Lazy:
    """A document computed when first needed (Haskell's laziness, where it matters)."""

    __slots__ = ("_make", "_value")

    def __init__(self, make: Callable[[], Doc]) -> None:
        self._make: Callable[[], Doc] | None = make
        self._value: Reduced = EMPTY

    def force(self) -> Reduced:
        if self._make is not None:
            self._value = _ev(self._make())
            self._make = None
        return self._value


def _ev(doc: Doc) -> Reduced:
    while isinstance(doc, _Lazy):
        doc = doc.force()
    return doc


def _later(make: Callable[[], Doc]) -> _Lazy:
    return _Lazy(make)


# --- building ------------------------------------------------------------------------


def text(value: str) -> Doc:
    return ("TB", value, len(value), EMPTY)


def beside_(left: Doc, space: bool, right: Doc) -> Doc:
    """``<>`` (``space`` false) and ``<+>`` (true)."""
    if _ev(right) == EMPTY:
        return left
    if _ev(left) == EMPTY:
        return right
    return ("B", left, space, right)


def hcat(docs: Sequence[Doc]) -> Doc:
    result: Doc = EMPTY
    for doc in reversed(docs):
        result = beside_(doc, False, result)
    return result


def punctuate(separator: Doc, docs: Sequence[Doc]) -> list[Doc]:
    if not docs:
        return []
    return [beside_(doc, False, separator) for doc in docs[:-1]] + [docs[-1]]


def fsep(docs: Sequence[Doc]) -> Doc:
    return _fill(True, list(docs))


# --- reduction -----------------------------------------------------------------------


def _reduce(doc: Doc) -> Doc:
    doc = _ev(doc)
    if doc[0] == "B":
        return _beside(doc[1], doc[2], _reduce(doc[3]))
    return doc


def _mk_nest(k: int, doc: Doc) -> Doc:
    doc = _ev(doc)
    while doc[0] == "N":
        k, doc = k + doc[1], _ev(doc[2])
    if doc in (NO_DOC, EMPTY) or k == 0:
        return doc
    return ("N", k, doc)


def _mk_union(first: Doc, second: Doc) -> Doc:
    first = _ev(first)
    return EMPTY if first == EMPTY else ("U", first, second)


def _beside(left: Doc, space: bool, right: Doc) -> Doc:
    left = _ev(left)
    if left[0] == "ND":
        return NO_DOC
    if left[0] == "U":
        return ("U", _later(lambda: _beside(left[1], space, right)),
                _later(lambda: _beside(left[2], space, right)))  # fmt: skip
    if left[0] == "E":
        return right
    if left[0] == "N":
        return ("N", left[1], _later(lambda: _beside(left[2], space, right)))
    if left[0] == "B":
        if left[2] == space:
            return _beside(left[1], space, _later(lambda: _beside(left[3], space, right)))
        return _beside(_reduce(left), space, right)
    if left[0] == "NA":
        return ("NA", _later(lambda: _beside(left[1], space, right)))
    rest = left[3]

    def after_text() -> Doc:
        if _ev(rest) == EMPTY:
            return _nil_beside(space, right)
        return _beside(rest, space, right)

    return ("TB", left[1], left[2], _later(after_text))


def _nil_beside(space: bool, doc: Doc) -> Doc:
    doc = _ev(doc)
    while doc[0] == "N":
        doc = _ev(doc[2])
    if doc == EMPTY:
        return EMPTY
    return ("TB", " ", 1, doc) if space else doc


def _above_nest(doc: Doc, space: bool, k: int, below: Doc) -> Doc:
    doc = _ev(doc)
    if doc[0] == "ND":
        return NO_DOC
    if doc[0] == "U":
        return ("U", _later(lambda: _above_nest(doc[1], space, k, below)),
                _later(lambda: _above_nest(doc[2], space, k, below)))  # fmt: skip
    if doc[0] == "E":
        return _mk_nest(k, below)
    if doc[0] == "N":
        return ("N", doc[1], _later(lambda: _above_nest(doc[2], space, k - doc[1], below)))
    if doc[0] == "NA":
        return ("NA", _later(lambda: _above_nest(doc[1], space, k, below)))
    assert doc[0] == "TB", "aboveNest Beside"  # Haskell's error: documents come reduced
    column = k - doc[2]
    rest = doc[3]

    def after_text() -> Doc:
        if _ev(rest) == EMPTY:
            return _nil_above_nest(space, column, below)
        return _above_nest(rest, space, column, below)

    return ("TB", doc[1], doc[2], _later(after_text))


def _nil_above_nest(space: bool, k: int, doc: Doc) -> Doc:
    doc = _ev(doc)
    while doc[0] == "N":
        k, doc = k + doc[1], _ev(doc[2])
    if doc == EMPTY:
        return EMPTY
    if not space and k > 0:
        return ("TB", " " * k, k, doc)
    return ("NA", _later(lambda: _mk_nest(k, doc)))


def _fill(space: bool, docs: list[Doc]) -> Doc:
    if not docs:
        return EMPTY
    return _fill1(space, _reduce(docs[0]), 0, docs[1:])


def _fill1(space: bool, doc: Doc, k: int, rest: list[Doc]) -> Doc:
    doc = _ev(doc)
    if doc[0] == "ND":
        return NO_DOC
    if doc[0] == "U":
        return ("U", _later(lambda: _fill1(space, doc[1], k, rest)),
                _later(lambda: _above_nest(doc[2], False, k, _later(
                    lambda: _fill(space, rest)))))  # fmt: skip
    if doc[0] == "E":
        return _mk_nest(k, _fill(space, rest))
    if doc[0] == "N":
        return ("N", doc[1], _later(lambda: _fill1(space, doc[2], k - doc[1], rest)))
    if doc[0] == "NA":
        return ("NA", _later(lambda: _above_nest(doc[1], False, k, _later(
            lambda: _fill(space, rest)))))  # fmt: skip
    assert doc[0] == "TB", "fill1 Beside"  # Haskell's error: documents come reduced
    return ("TB", doc[1], doc[2], _later(lambda: _fill_nb(space, doc[3], k - doc[2], rest)))


def _fill_nb(space: bool, doc: Doc, k: int, rest: list[Doc]) -> Doc:
    doc = _ev(doc)
    while doc[0] == "N":
        doc = _ev(doc[2])
    if doc != EMPTY:
        return _fill1(space, doc, k, rest)
    while rest and _ev(rest[0]) == EMPTY:
        rest = rest[1:]
    if not rest:
        return EMPTY
    return _fill_nbe(space, k, rest[0], rest[1:])


def _fill_nbe(space: bool, k: int, item: Doc, rest: list[Doc]) -> Doc:
    shifted = k - 1 if space else k
    flat = _elide_nest(_one_liner(_reduce(item)))
    same_line = _nil_beside(space, _fill1(space, flat, shifted, rest))
    return _mk_union(
        same_line, _later(lambda: _nil_above_nest(False, k, _fill(space, [item, *rest])))
    )


def _elide_nest(doc: Doc) -> Doc:
    doc = _ev(doc)
    return _ev(doc[2]) if doc[0] == "N" else doc


def _one_liner(doc: Doc) -> Doc:
    doc = _ev(doc)
    if doc[0] == "ND" or doc[0] == "E":
        return doc
    if doc[0] == "NA":
        return NO_DOC
    if doc[0] == "TB":
        return ("TB", doc[1], doc[2], _later(lambda: _one_liner(doc[3])))
    if doc[0] == "N":
        return ("N", doc[1], _later(lambda: _one_liner(doc[2])))
    assert doc[0] == "U", "oneLiner Beside"  # Haskell's error: documents come reduced
    return _one_liner(doc[1])


# --- rendering -----------------------------------------------------------------------


def _fits(room: int, doc: Doc) -> bool:
    while room >= 0:
        doc = _ev(doc)
        if doc[0] == "ND":
            return False
        if doc[0] == "E" or doc[0] == "NA":
            return True
        assert doc[0] == "TB", "fits"  # Haskell's error: only a laid-out line is measured
        room -= doc[2]
        doc = doc[3]
    return False


def _best(doc: Doc) -> Doc:
    def get(width: int, doc: Doc) -> Doc:
        doc = _ev(doc)
        if doc[0] == "E" or doc[0] == "ND":
            return doc
        if doc[0] == "NA":
            return ("NA", _later(lambda: get(width, doc[1])))
        if doc[0] == "TB":
            return ("TB", doc[1], doc[2], _later(lambda: get1(width, doc[2], doc[3])))
        if doc[0] == "N":
            return ("N", doc[1], _later(lambda: get(width - doc[1], doc[2])))
        assert doc[0] == "U", "best get"  # Haskell's error: documents come reduced
        return nicest(width, 0, get(width, doc[1]), lambda: get(width, doc[2]))

    def get1(width: int, used: int, doc: Doc) -> Doc:
        doc = _ev(doc)
        if doc[0] == "E" or doc[0] == "ND":
            return doc
        if doc[0] == "NA":
            return ("NA", _later(lambda: get(width - used, doc[1])))
        if doc[0] == "TB":
            return ("TB", doc[1], doc[2], _later(lambda: get1(width, used + doc[2], doc[3])))
        if doc[0] == "N":
            return get1(width, used, doc[2])
        assert doc[0] == "U", "best get1"  # Haskell's error: documents come reduced
        first = get1(width, used, doc[1])
        return nicest(width, used, first, lambda: get1(width, used, doc[2]))

    def nicest(width: int, used: int, first: Doc, second: Callable[[], Doc]) -> Doc:
        return first if _fits(min(width, RIBBON) - used, first) else _ev(second())

    return get(LINE_LENGTH, doc)


def render(doc: Doc) -> str:
    """``show`` of a document: the best layout for 100 columns and 1.5 ribbons.

    As HughesPJ's ``display``: a nest counts only at the start of a line,
    relative to the column where the previous line's text ended.
    """
    out: list[str] = []
    doc = _best(_reduce(doc))
    column, in_line = 0, False
    while True:
        doc = _ev(doc)
        if doc[0] == "E":
            return "".join(out)
        if doc[0] == "N":
            column += 0 if in_line else doc[1]
            doc = doc[2]
        elif doc[0] == "NA":
            out.append("\n")
            in_line = False
            doc = doc[1]
        else:
            assert doc[0] == "TB", "display"  # the best layout holds no choice any more
            if not in_line:
                out.append(" " * column)
                in_line = True
            out.append(doc[1])
            column += doc[2]
            doc = doc[3]
