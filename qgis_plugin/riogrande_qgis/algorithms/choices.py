"""Choice parameters: say what they accept, and accept an option's number too.

A choice is a :class:`QgsProcessingParameterEnum` with static strings, so
scripts, models and ``qgis_process`` give the option itself (``LOGIC=any``)
and saved models hold that text. QGIS lists such options by number
(``qgis_process help``: "0: all", "1: any", "Number of selected option")
but refuses the number ("Incorrect parameter value for LOGIC") or, where it
is not checked, reads it as the default (``parameterAsEnumString``). The
algorithms therefore turn a number into its option before QGIS checks the
values, and read choices through :func:`value`, which does the same; the
option itself keeps working as before.

Each choice names its options in its description (the dialog's label and
``qgis_process help``), in its help (shown by ``qgis_process help`` and as
the label's tooltip) and in the algorithm's help text (:func:`help_text`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingParameterEnum,
    QgsProperty,
)

#: An option's number as text: "1", " 1 ".
NUMBER = re.compile(r"^\s*(\d+)\s*$")


@dataclass(frozen=True)
class Choice:
    """One choice parameter: its options in order, the default, what each option means.

    Parameters
    ----------
    name : str
        Parameter name (``LOGIC``).
    title : str
        What is chosen, as the dialog says it (translated).
    options : tuple of str
        The options, in the order of their numbers (0 first). Options are only
        ever appended, so that a number keeps meaning the same option.
    default : str
        The option used when the parameter is not given.
    meanings : dict, optional
        Option -> a few words on it, shown in the description.
    """

    name: str
    title: str
    options: tuple[str, ...]
    default: str
    meanings: dict[str, str] = field(default_factory=dict)

    def description(self) -> str:
        """The parameter's description: the title and the options (with their meanings)."""
        if self.meanings:
            listed = "; ".join(f"{option}: {self.meanings[option]}" for option in self.options)
        else:
            listed = " / ".join(self.options)
        return f"{self.title} ({listed})"

    def numbered(self) -> str:
        """The options with their numbers: ``all (0), any (1)``."""
        return ", ".join(f"{option} ({number})" for number, option in enumerate(self.options))

    def help(self) -> str:
        """The parameter's help: what it accepts and its default."""
        return (f"One of: {', '.join(self.options)}; or the option's number: "
                f"{', '.join(f'{number} = {option}' for number, option in enumerate(self.options))}"
                f". Default: {self.default}.")

    def parameter(self) -> QgsProcessingParameterEnum:
        """The enum parameter (static strings), its help set."""
        definition = QgsProcessingParameterEnum(
            self.name, self.description(), options=list(self.options),
            defaultValue=self.default, usesStaticStrings=True,
        )
        definition.setHelp(self.help())
        return definition

    def resolve(self, value: Any) -> str | None:
        """The option ``value`` names (an option, or its number); None when it names none."""
        if isinstance(value, str) and value in self.options:
            return value
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            number: int | None = value
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        elif isinstance(value, str) and NUMBER.match(value):
            number = int(value)
        else:
            return None
        return self.options[number] if 0 <= number < len(self.options) else None

    def refusal(self, value: Any) -> str:
        """Why ``value`` is refused, and what is accepted."""
        return (f"Incorrect parameter value for {self.name}: {value!r}. Accepted: "
                f"{', '.join(self.options)}, or the option's number ("
                f"{', '.join(f'{number} = {option}' for number, option in enumerate(self.options))}"
                ").")


#: Key of a choice's title in its parameter's metadata.
TITLE = "riogrande_title"


def add(algorithm: QgsProcessingAlgorithm, choice: Choice) -> None:
    """Declare ``choice`` on ``algorithm``."""
    definition = choice.parameter()
    definition.setMetadata({**definition.metadata(), TITLE: choice.title})
    algorithm.addParameter(definition)


def declared(algorithm: QgsProcessingAlgorithm) -> dict[str, Choice]:
    """The choices of ``algorithm`` (its static-string enum parameters), by name, in order.

    Read back from the parameter definitions QGIS holds, so that every
    instance QGIS makes of the algorithm has them.
    """
    found = {}
    for definition in algorithm.parameterDefinitions():
        if not isinstance(definition, QgsProcessingParameterEnum) \
                or not definition.usesStaticStrings() or definition.allowMultiple():
            continue
        found[definition.name()] = Choice(
            definition.name(), definition.metadata().get(TITLE) or definition.description(),
            tuple(definition.options()), str(definition.defaultValue()))
    return found


def _given(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def normalised(algorithm: QgsProcessingAlgorithm, parameters: dict[str, Any]
               ) -> tuple[dict[str, Any], str | None]:
    """``parameters`` with each choice given by number replaced by its option.

    Returns
    -------
    dict
        A copy of ``parameters`` (dynamic values, QgsProperty, left as they are:
        :func:`value` resolves them when the algorithm runs).
    str or None
        Why a choice is refused, None when every choice is accepted.
    """
    result = dict(parameters)
    for name, choice in declared(algorithm).items():
        value = result.get(name)
        if not _given(value) or isinstance(value, QgsProperty):
            continue
        option = choice.resolve(value)
        if option is None:
            return result, choice.refusal(value)
        result[name] = option
    return result, None


def value(algorithm: QgsProcessingAlgorithm, parameters: dict[str, Any], name: str,
          context: QgsProcessingContext) -> str:
    """The option chosen for ``name``: given as the option or its number, else the default.

    Raises
    ------
    QgsProcessingException
        When the value (e.g. a model's expression) names no option.
    """
    choice = declared(algorithm)[name]
    raw = parameters.get(name)
    if isinstance(raw, QgsProperty):
        raw = algorithm.parameterAsString(parameters, name, context)
    if not _given(raw):
        return choice.default
    option = choice.resolve(raw)
    if option is None:
        raise QgsProcessingException(choice.refusal(raw))
    return option


def help_text(algorithm: QgsProcessingAlgorithm) -> str:
    """A paragraph for the algorithm's help: every choice and its options, numbered."""
    lines = [f"'{choice.title}': {choice.numbered()}"
             for choice in declared(algorithm).values()]
    if not lines:
        return ""
    return ("Choices (scripts and qgis_process also accept the number in parentheses):\n"
            + "\n".join(lines))
