"""Raster calculator expressions: parsed and checked once, evaluated block by block.

An expression such as ``where(b[1] > 0, (b[1] - a) / (b[1] + a), -1)`` is
parsed with :mod:`ast` and checked before any work starts. It may use only:

* the names of the inputs: ``a`` is band 1 of a single-band input and all
  bands ``(bands, rows, cols)`` of a multi-band one; ``a[2]`` is band 2;
* numbers, and the constants ``nan``, ``inf``, ``pi`` and ``e``;
* arithmetic (``+ - * / // % **``), comparisons (``< <= > >= == !=``,
  chained too), element-wise logic (``and or not``, ``& | ~``);
* calls to the numpy functions of :data:`FUNCTIONS`.

Anything else (attribute access, imports, other calls, keywords, strings,
lambdas, comprehensions...) is an :class:`~riogrande.errors.ExpressionError`
naming its column. Nothing is ever passed to :func:`eval`: the checked tree is
turned into nested numpy calls.

:func:`calculate` evaluates an expression over rasters with the engine of
:func:`riogrande.apply` (:func:`plan_calculation` checks everything first);
the ``riogrande calc`` command and the QGIS algorithm ``riogrande:calc`` call
them.
"""

from __future__ import annotations

import ast
import functools
import itertools
import math
import os
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from riogrande.blockwise import ApplyJob, ApplyReport, plan_apply
from riogrande.blockwise_worker import has_mask
from riogrande.errors import ExpressionError
from riogrande.inputs import open_source, source_name
from riogrande.inputs import run_options as check_run_options
from riogrande.io.rasters import Source
from riogrande.io.remote import gdal_options

#: Functions an expression may call: name -> (numpy function, fewest, most arguments).
FUNCTIONS: dict[str, tuple[Callable[..., Any], int, int]] = {
    **{name: (getattr(np, name), 1, 1) for name in (
        "sqrt", "log", "log10", "log2", "log1p", "exp", "abs", "sin", "cos", "tan", "arcsin",
        "arccos", "arctan", "floor", "ceil", "isnan", "isfinite", "isinf", "logical_not")},
    **{name: (getattr(np, name), 2, 2) for name in (
        "arctan2", "minimum", "maximum", "logical_and", "logical_or", "logical_xor")},
    "where": (np.where, 3, 3), "clip": (np.clip, 3, 3), "round": (np.round, 1, 2),
}
#: Names that stand for numbers.
CONSTANTS = {"nan": math.nan, "inf": math.inf, "pi": math.pi, "e": math.e}

_BINARY = {
    ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.true_divide,
    ast.FloorDiv: np.floor_divide, ast.Mod: np.mod, ast.Pow: np.power,
    ast.BitAnd: np.bitwise_and, ast.BitOr: np.bitwise_or, ast.BitXor: np.bitwise_xor,
}
_UNARY = {ast.USub: np.negative, ast.UAdd: np.positive, ast.Not: np.logical_not,
          ast.Invert: np.invert}
_COMPARE = {ast.Lt: np.less, ast.LtE: np.less_equal, ast.Gt: np.greater,
            ast.GtE: np.greater_equal, ast.Eq: np.equal, ast.NotEq: np.not_equal}
_BOOLEAN = {ast.And: np.logical_and, ast.Or: np.logical_or}

Data = Mapping[str, NDArray]
Node = Callable[[Data], Any]


def _error(
    text: str, node: ast.AST | None, problem: str, column: int | None = None
) -> ExpressionError:
    if column is None and node is not None:
        column = getattr(node, "col_offset", 0) + 1
    where = f" at column {column}" if column else ""
    caret = f"\n  {text}\n  {' ' * ((column or 1) - 1)}^" if column else ""
    return ExpressionError(f"invalid expression{where}: {problem}{caret}", column)


class Expression:
    """A checked expression over named rasters; call it on a block's arrays.

    Parameters
    ----------
    text : str
        The expression.
    counts : mapping of str to int
        Input name -> its number of bands.

    Raises
    ------
    ExpressionError
        If the expression is malformed, uses anything not allowed, an
        unknown name, or a band an input does not have; the message names
        the column.
    """

    def __init__(self, text: str, counts: Mapping[str, int]) -> None:
        self.counts = dict(counts)
        self._used: dict[str, set[int]] = {}
        self.text = text.strip()
        try:
            tree = ast.parse(self.text, mode="eval")
        except SyntaxError as error:
            end = len(self.text) + 1  # Python gives 0 for "at the end"
            column = error.offset if error.offset and error.offset <= end else end
            problem = "incomplete expression" if column == end else error.msg
            raise _error(self.text, None, problem, column) from None
        self._root = self._compile(tree.body)
        #: Input name -> the bands read (1-based), only inputs the expression uses.
        self.bands = {name: sorted(self._used[name]) for name in self.counts
                      if name in self._used}
        self._positions = {name: {bidx: i for i, bidx in enumerate(bands)}
                           for name, bands in self.bands.items()}

    @property
    def count(self) -> int:
        """Number of bands of the result, from an evaluation on one pixel.

        Raises
        ------
        ExpressionError
            If the bands do not combine (e.g. all 3 bands of one input with
            the 4 of another).
        """
        pixel = {name: np.zeros((len(bands), 1, 1)) for name, bands in self.bands.items()}
        try:
            result = self(pixel)
        except (ValueError, TypeError) as error:
            raise ExpressionError(f"invalid expression: its inputs' bands do not combine "
                                  f"((bands, rows, cols) arrays: {error})") from None
        return 1 if result.ndim < 3 else int(result.shape[0])

    def __reduce__(self) -> tuple:
        return (type(self), (self.text, self.counts))

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"

    # -- checking and compiling ------------------------------------------------------

    def _fail(self, node: ast.AST, problem: str) -> ExpressionError:
        return _error(self.text, node, problem)

    def _compile(self, node: ast.AST) -> Node:
        compile_node = getattr(self, f"_compile_{type(node).__name__}", None)
        if compile_node is None:
            raise self._fail(node, f"{_describe(node)} is not allowed")
        return compile_node(node)

    def _compile_Constant(self, node: ast.Constant) -> Node:  # noqa: N802
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self._fail(node, f"only numbers are allowed, not {value!r}")
        return lambda data: value

    def _compile_Name(self, node: ast.Name) -> Node:  # noqa: N802
        name = node.id
        if name in CONSTANTS:
            value = CONSTANTS[name]
            return lambda data: value
        if name not in self.counts:
            known = ", ".join(self.counts) or "none"
            hint = " (a function must be called)" if name in FUNCTIONS else ""
            raise self._fail(node, f"unknown name {name!r}{hint}; the inputs are {known}")
        bands = range(1, self.counts[name] + 1)
        self._used.setdefault(name, set()).update(bands)
        if self.counts[name] == 1:
            return lambda data: self._band(data, name, 1)
        return lambda data: _as_computed(data[name])

    def _compile_Subscript(self, node: ast.Subscript) -> Node:  # noqa: N802
        index = node.slice
        if not isinstance(node.value, ast.Name) or node.value.id not in self.counts:
            raise self._fail(node, "only an input can be indexed, by a band number: a[1]")
        name = node.value.id
        if not isinstance(index, ast.Constant) or isinstance(index.value, bool) \
                or not isinstance(index.value, int):
            raise self._fail(index, f"a band of {name} is an integer from 1, e.g. {name}[1]")
        bidx = index.value
        if not 1 <= bidx <= self.counts[name]:
            raise self._fail(index, f"{name} has {self.counts[name]} band(s); "
                                    f"there is no band {bidx}")
        self._used.setdefault(name, set()).add(bidx)
        return lambda data: self._band(data, name, bidx)

    def _compile_BinOp(self, node: ast.BinOp) -> Node:  # noqa: N802
        operation = _BINARY.get(type(node.op))
        if operation is None:
            raise self._fail(node, f"the operator {type(node.op).__name__} is not allowed")
        left, right = self._compile(node.left), self._compile(node.right)
        return lambda data: operation(left(data), right(data))

    def _compile_UnaryOp(self, node: ast.UnaryOp) -> Node:  # noqa: N802
        operation = _UNARY[type(node.op)]
        operand = self._compile(node.operand)
        return lambda data: operation(operand(data))

    def _compile_BoolOp(self, node: ast.BoolOp) -> Node:  # noqa: N802
        operation = _BOOLEAN[type(node.op)]
        values = [self._compile(value) for value in node.values]

        return lambda data: functools.reduce(operation, (value(data) for value in values))

    def _compile_Compare(self, node: ast.Compare) -> Node:  # noqa: N802
        for operator in node.ops:
            if type(operator) not in _COMPARE:
                raise self._fail(node, f"the comparison {type(operator).__name__} is not allowed")
        operands = [self._compile(node.left), *(self._compile(item) for item in node.comparators)]
        operations = [_COMPARE[type(operator)] for operator in node.ops]

        def compared(data: Data) -> Any:
            values = [operand(data) for operand in operands]
            return functools.reduce(np.logical_and, (
                operation(*pair) for operation, pair in zip(operations, itertools.pairwise(values),
                                                            strict=True)))

        return compared

    def _compile_Call(self, node: ast.Call) -> Node:  # noqa: N802
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            what = node.func.id if isinstance(node.func, ast.Name) else _describe(node.func)
            allowed = ", ".join(sorted(FUNCTIONS))
            raise self._fail(node, f"{what!s} cannot be called; the functions are {allowed}")
        name = node.func.id
        if node.keywords:
            raise self._fail(node.keywords[0].value, f"{name}() takes no keyword arguments")
        function, fewest, most = FUNCTIONS[name]
        if not fewest <= len(node.args) <= most:
            expected = fewest if fewest == most else f"{fewest} to {most}"
            raise self._fail(node, f"{name}() takes {expected} argument(s), "
                                   f"got {len(node.args)}")
        for argument in node.args:
            if isinstance(argument, ast.Starred):
                raise self._fail(argument, "*arguments are not allowed")
        arguments = [self._compile(argument) for argument in node.args]
        return lambda data: function(*(argument(data) for argument in arguments))

    # -- evaluating ------------------------------------------------------------------

    def _band(self, data: Data, name: str, bidx: int) -> NDArray:
        return _as_computed(data[name][self._positions[name][bidx]])

    def __call__(self, data: Data) -> NDArray:
        """Evaluate on a block.

        Parameters
        ----------
        data : mapping of str to numpy.ndarray
            Input name -> ``(bands, rows, cols)`` array of the bands in
            :attr:`bands`, in that order. Masked arrays: the result is
            masked wherever a band the expression reads is masked.

        Returns
        -------
        numpy.ndarray
            ``(rows, cols)``, or ``(bands, rows, cols)`` when the expression
            uses all bands of a multi-band input; a masked array for masked
            inputs.
        """
        plain = {name: np.ma.getdata(array) for name, array in data.items()}
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            result = np.asarray(self._root(plain))
        masks = [np.ma.getmask(array) for array in data.values()]
        masks = [mask.any(axis=0) for mask in masks if mask is not np.ma.nomask]
        if masks:
            return np.ma.masked_array(result, mask=np.broadcast_to(np.logical_or.reduce(masks),
                                                                   result.shape))
        return result


def _as_computed(band: NDArray) -> NDArray:
    """Integers are computed as float64 (exact to 2**53, no wrap-around); floats as stored."""
    return band if band.dtype.kind == "f" else band.astype(np.float64)


def _describe(node: ast.AST) -> str:
    names = {"Attribute": "attribute access", "Lambda": "a lambda", "IfExp": "if/else",
             "ListComp": "a comprehension", "GeneratorExp": "a comprehension",
             "Dict": "a dict", "List": "a list", "Tuple": "a tuple", "Set": "a set",
             "NamedExpr": "an assignment", "Await": "await", "Slice": "a slice",
             "Starred": "*arguments", "JoinedStr": "a string", "Yield": "yield"}
    return names.get(type(node).__name__, type(node).__name__)


def check_input_names(names: Mapping[str, Any] | list[str]) -> None:
    """Check that input names can be used in an expression.

    Raises
    ------
    ExpressionError
        For a name that is not an identifier, or is a function or constant.
    """
    for name in names:
        if not str(name).isidentifier() or name in FUNCTIONS or name in CONSTANTS:
            raise ExpressionError(f"{name!r} cannot name an input: use a letter or a word "
                                  "that is not a function or constant name (e.g. a, red)")


def plan_calculation(
    expression: str,
    inputs: Mapping[str, str | os.PathLike[str] | Source],
    output: str | os.PathLike[str] | None,
    *,
    dtype: Any = "float32",
    nodata: Any = None,
    block_size: Any = None,
    cog: bool = False,
    creation_options: Mapping[str, Any] | None = None,
    **run_options: Any,
) -> ApplyJob:
    """Check an expression, its inputs and its output before any work.

    The parameters are those of :func:`calculate`.

    Returns
    -------
    ApplyJob
        Its :meth:`~riogrande.blockwise.ApplyJob.run` evaluates the expression.
    """
    check_input_names(list(inputs))
    # numpy's work, which releases the GIL: threads
    options = check_run_options(run_options, inputs=[source_name(path) for path in inputs.values()])
    with gdal_options(options.gdal_settings):
        sources = {name: open_source(path) for name, path in inputs.items()}
        compiled = Expression(expression, {name: source.count for name, source in sources.items()})
        if not compiled.bands:
            raise ExpressionError("the expression uses no input; name at least one "
                                  f"of {', '.join(inputs)}")
        used = {name: sources[name] for name in compiled.bands}
        masked = nodata is not None or any(has_mask(sources[name], bands)
                                           for name, bands in compiled.bands.items())
    return plan_apply(compiled, used, output, bands=compiled.bands, dtype=dtype,
                      nodata=nodata, masked=masked, block_size=block_size,
                      count=compiled.count, cog=cog, creation_options=creation_options,
                      **options.as_dict())


def calculate(
    expression: str,
    inputs: Mapping[str, str | os.PathLike[str] | Source],
    output: str | os.PathLike[str] | None,
    *,
    dtype: Any = "float32",
    nodata: Any = None,
    block_size: Any = None,
    cog: bool = False,
    creation_options: Mapping[str, Any] | None = None,
    **run_options: Any,
) -> ApplyReport:
    """Evaluate a raster calculator expression over rasters, block by block, in parallel.

    Parameters
    ----------
    expression : str
        See the module's description, e.g. ``"(b[1] - a) / (b[1] + a)"``.
    inputs : mapping of str to path
        Name -> raster; all on the same grid.
    output : str, path-like or None
        The new GeoTIFF, or None to return the array in the report.
    dtype : str, default "float32"
        Data type of the result.
    nodata : int, float or None
        Nodata value of the output; pixels where a band the expression
        reads is masked (its nodata value or the file's mask) get it. By
        default NaN for a floating point ``dtype``, the type's largest
        value for unsigned integers, its smallest for signed ones, when a
        band the expression reads has masked pixels; otherwise the output
        has no nodata value. Valid pixels whose result is the nodata value
        are counted (:attr:`~riogrande.blockwise.ApplyReport.nodata_collisions`).
    block_size : tuple of int, optional
        ``(width, height)`` of a block.
    cog : bool, default False
        Write a Cloud-Optimized GeoTIFF.
    creation_options : mapping, optional
        GDAL creation options over the defaults (the first input's tiling
        and compression), e.g. ``{"COMPRESS": "NONE"}``; checked before any
        work.
    **run_options
        See :class:`~riogrande.inputs.RunOptions`. Without ``backend``,
        ``start_method``, ``executable`` or ``executor``, the blocks run in
        threads of this process: evaluating an expression is numpy's work,
        which releases Python's GIL, and threads cost no start-up.

    Returns
    -------
    ApplyReport

    Raises
    ------
    ExpressionError
        Before any work, for an expression that is malformed or not allowed.
    """
    return plan_calculation(expression, inputs, output, dtype=dtype, nodata=nodata,
                            block_size=block_size, cog=cog, creation_options=creation_options,
                            **run_options).run()
