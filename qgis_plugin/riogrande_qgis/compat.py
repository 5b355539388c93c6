"""QGIS API names that changed between 3.22 and 3.36+ (scoped ``Qgis`` enums)."""

from __future__ import annotations

from qgis.core import (
    Qgis,
    QgsProcessing,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterNumber,
)

_NUMBER_TYPE = getattr(Qgis, "ProcessingNumberParameterType", None)
_PARAMETER_FLAG = getattr(Qgis, "ProcessingParameterFlag", None)
_SOURCE_TYPE = getattr(Qgis, "ProcessingSourceType", None)

#: Type of an integer / a decimal :class:`QgsProcessingParameterNumber`.
INTEGER = _NUMBER_TYPE.Integer if _NUMBER_TYPE else QgsProcessingParameterNumber.Integer
DOUBLE = _NUMBER_TYPE.Double if _NUMBER_TYPE else QgsProcessingParameterNumber.Double
#: Layer type of a :class:`QgsProcessingParameterMultipleLayers` of rasters.
RASTER = _SOURCE_TYPE.Raster if _SOURCE_TYPE else QgsProcessing.TypeRaster
#: Flag putting a parameter in the dialog's "Advanced parameters" section.
ADVANCED = (_PARAMETER_FLAG.Advanced if _PARAMETER_FLAG
            else QgsProcessingParameterDefinition.FlagAdvanced)
#: Flag of a parameter that may be left empty.
OPTIONAL = (_PARAMETER_FLAG.Optional if _PARAMETER_FLAG
            else QgsProcessingParameterDefinition.FlagOptional)


def set_advanced(parameter: QgsProcessingParameterDefinition) -> QgsProcessingParameterDefinition:
    """Mark ``parameter`` as advanced and return it."""
    parameter.setFlags(parameter.flags() | ADVANCED)
    return parameter
