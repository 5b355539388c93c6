"""Raster calculator expressions: what is allowed, what is refused (with its column), values."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from riogrande.expression import Expression, check_input_names
from riogrande.io.exceptions import ExpressionError

COUNTS = {"a": 1, "b": 3}
RNG = np.random.default_rng(5)
A = RNG.integers(0, 1000, (1, 7, 9)).astype("uint16")
B = RNG.uniform(-5, 5, (3, 7, 9)).astype("float32")


def evaluate(text: str, a: np.ndarray = A, b: np.ndarray = B) -> np.ndarray:
    expression = Expression(text, COUNTS)
    data = {"a": a, "b": b[[bidx - 1 for bidx in expression.bands.get("b", [])]]}
    return expression(data)


@pytest.mark.parametrize("text, expected", [
    ("(b[2] - a) / (b[2] + a)", lambda a, b: (b[1] - a[0]) / (b[1] + a[0].astype(float))),
    ("a - 1000", lambda a, b: a[0].astype(float) - 1000),  # no uint16 wrap-around
    ("where(a > 500, 1, where(a > 100, 2, 0))",
     lambda a, b: np.where(a[0] > 500, 1, np.where(a[0] > 100, 2, 0))),
    ("sqrt(abs(b[1])) + log(a + 1) * exp(-b[3])",
     lambda a, b: np.sqrt(np.abs(b[0])) + np.log(a[0] + 1.0) * np.exp(-b[2])),
    ("b * 2 + a", lambda a, b: b * 2 + a[0].astype(float)),
    ("100 < a <= 700", lambda a, b: (a[0] > 100) & (a[0] <= 700)),
    ("(a > 100) and not (b[1] < 0) or b[2] > 4",
     lambda a, b: ((a[0] > 100) & ~(b[0] < 0)) | (b[1] > 4)),
    ("(a > 100) & (b[1] < 0) | ~(b[3] > 1)",
     lambda a, b: ((a[0] > 100) & (b[0] < 0)) | ~(b[2] > 1)),
    ("isnan(log(b[1])) * 1.5 ** 2 + a // 7 % 3",
     lambda a, b: np.isnan(np.log(b[0])) * 2.25 + a[0].astype(float) // 7 % 3),
    ("clip(b[1], -1, 1) + minimum(a, 5) + maximum(b[2], pi) + round(b[3], 1) * nan",
     lambda a, b: np.clip(b[0], -1, 1) + np.minimum(a[0].astype(float), 5)
     + np.maximum(b[1], np.pi) + np.round(b[2], 1) * np.nan),
])
def test_values_equal_numpy(text, expected):
    with np.errstate(all="ignore"):
        assert_allclose(evaluate(text), expected(A, B), rtol=1e-6, equal_nan=True)


def test_only_the_bands_used_are_read():
    assert Expression("b[3] - b[1] + a", COUNTS).bands == {"a": [1], "b": [1, 3]}
    assert Expression("b + b[2]", COUNTS).bands == {"b": [1, 2, 3]}
    assert Expression("b[2] * 2", COUNTS).bands == {"b": [2]}


@pytest.mark.parametrize("text, column, words", [
    ("a.dtype", 1, "attribute access"),
    ("__import__('os').system('true')", 1, "cannot be called"),
    ("open('x')", 1, "open cannot be called"),
    ("a + eval('1')", 5, "eval cannot be called"),
    ("np.sqrt(a)", 1, "attribute"),
    ("sqrt(a, out=a)", 13, "no keyword"),
    ("sqrt(*b)", 6, r"\*arguments"),
    ("where(a > 1, 1)", 1, "takes 3 argument"),
    ("lambda: a", 1, "lambda"),
    ("[x for x in b]", 1, "comprehension"),
    ("a if a > 1 else b", 1, "if/else"),
    ("'text' + a", 1, "only numbers"),
    ("a + True", 5, "only numbers"),
    ("b[0]", 3, "no band 0"),
    ("b[4]", 3, "no band 4"),
    ("b[1:2]", 3, "integer from 1"),
    ("b[a]", 3, "integer from 1"),
    ("sqrt(a)[1]", 1, "only an input can be indexed"),
    ("c * 2", 1, "unknown name 'c'"),
    ("a + sqrt", 5, "must be called"),
    ("a @ b", 1, "MatMult"),
    ("a is b", 1, "Is"),
    ("(a := 3)", 2, "assignment"),
    ("a +", 4, "incomplete"),
    ("a b", 3, "invalid syntax"),
])
def test_refused_expressions_name_the_column(text, column, words):
    with pytest.raises(ExpressionError, match=words) as info:
        Expression(text, COUNTS)
    assert info.value.column == column
    assert f"at column {column}" in str(info.value)
    assert str(info.value).splitlines()[-1] == " " * (column + 1) + "^"


def test_pickles_for_worker_processes():
    expression = pickle.loads(pickle.dumps(Expression("b[2] / a", COUNTS)))
    assert_allclose(expression({"a": A, "b": B[[1]]}), B[1] / A[0])


def test_masked_inputs_mask_the_result():
    a = np.ma.masked_equal(A, A[0, 0, 0])
    b = np.ma.masked_array(B, mask=np.zeros(B.shape, bool))
    b.mask[2, 3, 4] = True
    b.mask[0, 1, 1] = True
    result = Expression("a + b[3]", COUNTS)({"a": a, "b": b[[2]]})
    expected = np.ma.getmaskarray(a)[0] | b.mask[2]
    assert_array_equal(np.ma.getmaskarray(result), expected)
    assert expected.sum() >= 2
    assert_allclose(result.data, A[0] + B[2].astype(float), rtol=1e-6)


def test_input_names_must_be_identifiers():
    check_input_names(["a", "red", "band_2"])
    for name in ("2a", "a-b", "where", "nan"):
        with pytest.raises(ExpressionError, match="cannot name an input"):
            check_input_names([name])


@pytest.mark.parametrize("text, count", [
    ("a * 2", 1), ("b[2] - a", 1), ("b * 2", 3), ("where(b > 0, b, a)", 3), ("b + b[1]", 3),
])
def test_band_count_of_the_result(text, count):
    expression = Expression(text, COUNTS)
    assert expression.count == count == (evaluate(text).shape[0] if count > 1 else 1)


def test_bands_that_do_not_combine_are_refused_up_front():
    with pytest.raises(ExpressionError, match="broadcast"):
        _ = Expression("b + c", {"b": 3, "c": 4}).count
