"""A job's public function made of its two steps: plan every check, then run.

Each job has a planner (:func:`~riogrande.masking.plan_mask`,
:func:`~riogrande.blockwise.plan_apply`...) that checks everything and
writes nothing, used alone by the command line and QGIS to fail before any
work; the function users call (:func:`~riogrande.masking.write_mask`,
:func:`~riogrande.apply`...) takes the planner's parameters, plans and runs.
:func:`planned` builds the second from the first, so the parameters are
written once.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import ParamSpec, TypeVar

Parameters = ParamSpec("Parameters")
Job = TypeVar("Job")
Result = TypeVar("Result")


def planned(plan: Callable[Parameters, Job]
            ) -> Callable[[Callable[[Job], Result]], Callable[Parameters, Result]]:
    """Decorate ``finish(job)`` into a function of ``plan``'s parameters.

    The decorated function calls ``plan`` with its arguments and returns
    ``finish`` of the planned job. It keeps ``finish``'s name and docstring,
    which document ``plan``'s parameters as the user gives them, and shows
    ``plan``'s signature with ``finish``'s return type (``help()``,
    :func:`inspect.signature`).
    """
    def decorate(finish: Callable[[Job], Result]) -> Callable[Parameters, Result]:
        @functools.wraps(finish)
        def plan_and_finish(*args: Parameters.args, **kwargs: Parameters.kwargs) -> Result:
            return finish(plan(*args, **kwargs))

        returns = inspect.signature(finish).return_annotation
        plan_and_finish.__signature__ = (  # type: ignore[attr-defined]
            inspect.signature(plan).replace(return_annotation=returns))
        return plan_and_finish

    return decorate
