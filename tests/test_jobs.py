"""The public function of each job takes its planner's parameters and documents every one."""

from __future__ import annotations

import inspect
import re

import pytest

from riogrande import apply
from riogrande.blockwise import ApplyReport, plan_apply
from riogrande.expression import calculate, plan_calculation
from riogrande.masking import MaskReport, plan_mask, plan_selector, write_mask, write_selector

JOBS = [(write_mask, plan_mask, MaskReport), (write_selector, plan_selector, MaskReport),
        (apply, plan_apply, ApplyReport), (calculate, plan_calculation, ApplyReport)]


def documented(function) -> set[str]:
    """The parameter names of a numpy-style docstring's Parameters section."""
    text = inspect.cleandoc(function.__doc__)  # Python 3.13 dedents docstrings itself
    section = text.split("Parameters\n----------\n")[1].split("\n\nReturns")[0]
    names = set()
    for line in section.splitlines():
        if re.match(r"^\S", line):
            names |= {name.strip().lstrip("*") for name in line.split(" : ")[0].split(",")}
    return names


@pytest.mark.parametrize(("public", "plan", "report"), JOBS,
                         ids=[public.__name__ for public, _, _ in JOBS])
def test_public_function_takes_its_planners_parameters_and_documents_them(public, plan, report):
    shown = inspect.signature(public)
    assert list(shown.parameters.values()) == list(inspect.signature(plan).parameters.values())
    assert shown.return_annotation == report.__name__
    assert documented(public) == set(shown.parameters)


def test_public_function_plans_before_it_runs(tmp_path):
    with pytest.raises(TypeError, match="no_such_option"):
        write_mask(tmp_path / "missing.tif", tmp_path / "mask.tif", no_such_option=1)
    assert not list(tmp_path.iterdir())
