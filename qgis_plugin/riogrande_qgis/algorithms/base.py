"""What the algorithms share: run parameters, layer paths, the engine call, errors.

``processAlgorithm`` of each algorithm turns parameters into plain values
(paths, numbers, band lists) and hands a riogrande call to
:meth:`RiograndeAlgorithm.run_engine`, which runs it in a spawn process pool
started with QGIS's own Python, reports progress per block, polls Cancel, and
turns riogrande's errors into :class:`QgsProcessingException`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputNumber,
    QgsProcessingParameterBand,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProviderRegistry,
    QgsRasterLayer,
)
from qgis.PyQt.QtCore import QCoreApplication

from .. import compat
from ..dependencies import MissingDependencyError, dependency_problem, load_engine
from ..interpreter import InterpreterNotFoundError, find_python
from ..warm_pool import WARM_POOL
from . import choices, output_form


def cpu_count() -> int:
    """CPUs this process may use (the number of workers when WORKERS is empty)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # Windows, macOS
        return max(1, os.cpu_count() or 1)


#: Smallest BLOCK_SIZE: smaller blocks make a run spend its time on per-block overhead.
MIN_BLOCK_SIZE = 64


class RiograndeAlgorithm(QgsProcessingAlgorithm):
    """Base of the riogrande algorithms (not registered itself)."""

    INPUT = "INPUT"
    BANDS = "BANDS"
    BLOCK_SIZE = "BLOCK_SIZE"
    WORKERS = "WORKERS"
    OUTPUT = "OUTPUT"
    VALID_PIXELS = "VALID_PIXELS"
    MASKED_PIXELS = "MASKED_PIXELS"

    #: Raster layer parameters whose files are read.
    raster_parameters: tuple[str, ...] = (INPUT,)
    #: Run the blocks in threads of QGIS's process instead of worker processes started
    #: with QGIS's Python (for work that releases Python's GIL: numpy, GDAL reads).
    in_threads = False

    def tr(self, text: str) -> str:
        """Translate ``text`` in the plugin's context."""
        return QCoreApplication.translate("riogrande", text)

    def createInstance(self) -> RiograndeAlgorithm:  # noqa: N802 (QGIS API)
        """A fresh instance for each run."""
        return type(self)()

    def with_choices(self, text: str) -> str:
        """``text``, then a paragraph naming each choice's options (and their numbers)."""
        listed = choices.help_text(self)
        return f"{text}\n\n{listed}" if listed else text

    def group(self) -> str:
        """Toolbox group."""
        return self.tr("Masks")

    def groupId(self) -> str:  # noqa: N802 (QGIS API)
        """Stable group id."""
        return "masks"

    def tags(self) -> list[str]:
        """Search keywords."""
        return ["mask", "nodata", "valid", "selector", "parallel", "block", "rasterio"]

    # -- declaring parameters ------------------------------------------------------------

    def add_input_parameters(self) -> None:
        """Declare INPUT (the raster) and BANDS (several, empty: all)."""
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, self.tr("Input raster")))
        self.addParameter(QgsProcessingParameterBand(
            self.BANDS, self.tr("Bands (empty: all bands)"), None, self.INPUT,
            optional=True, allowMultiple=True,
        ))

    def add_run_parameters(self, output_description: str, mask_output: bool = True) -> None:
        """Declare BLOCK_SIZE, WORKERS (advanced), OUTPUT; for a mask output its form
        (ENCODING, COG...) and the pixel-count outputs."""
        self.addParameter(compat.set_advanced(QgsProcessingParameterNumber(
            self.BLOCK_SIZE,
            self.tr("Block size in pixels (square blocks; empty: aligned to the file's tiling)"),
            type=compat.INTEGER, optional=True, minValue=MIN_BLOCK_SIZE,
        )))
        self.addParameter(compat.set_advanced(QgsProcessingParameterNumber(
            self.WORKERS, self.tr("Worker processes (empty: all CPUs)"),
            type=compat.INTEGER, optional=True, minValue=1,
        )))
        if mask_output:
            output_form.add_output_form_parameters(self)
        self.addParameter(QgsProcessingParameterRasterDestination(
            self.OUTPUT, output_description,
        ))
        if mask_output:
            self.addOutput(QgsProcessingOutputNumber(self.VALID_PIXELS, self.tr("Valid pixels")))
            self.addOutput(QgsProcessingOutputNumber(self.MASKED_PIXELS,
                                                     self.tr("Masked pixels")))

    # -- checks before running -----------------------------------------------------------

    def canExecute(self) -> tuple[bool, str]:  # noqa: N802 (QGIS API)
        """False, with install instructions, when rasterio cannot be imported."""
        problem = dependency_problem()
        return problem is None, problem or ""

    def checkParameterValues(  # noqa: N802 (QGIS API)
        self, parameters: dict[str, Any], context: QgsProcessingContext
    ) -> tuple[bool, str]:
        """Check the engine can be imported and every raster is a file GDAL reads."""
        problem = dependency_problem()
        if problem is not None:
            return False, problem
        problem = self.unreadable_file(parameters)
        if problem is not None:
            return False, problem
        # a choice given by its number is checked (and later read) as its option
        parameters, problem = choices.normalised(self, parameters)
        if problem is not None:
            return False, problem
        ok, message = super().checkParameterValues(parameters, context)
        if not ok:
            return ok, message
        if parameters.get(self.OUTPUT) is not None:
            output = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
            cog = self.parameterAsBool(parameters, output_form.COG, context)
            problem = output_form.output_format_problem(output, cog)
            if problem is not None:
                return False, problem
        for name in self.raster_parameters:
            layer = self.parameterAsRasterLayer(parameters, name, context)
            if layer is not None and layer.providerType() != "gdal":
                return False, self.tr(
                    "{} is a {} layer; riogrande reads raster files through GDAL only"
                ).format(layer.name(), layer.providerType())
        return True, ""

    def unreadable_file(self, parameters: dict[str, Any]) -> str | None:
        """Why a raster parameter given as an existing path cannot be read, if it cannot.

        QGIS's own check reports such a file (a folder, an empty or a
        damaged file) as "not found"; riogrande's says what is wrong with it.
        """
        engine = load_engine()
        from riogrande.io.handles import open_raster

        for name in self.raster_parameters:
            value = parameters.get(name)
            if not isinstance(value, str) or not os.path.exists(value):
                continue
            try:
                open_raster(value).close()
            except engine.RiograndeError as error:
                return str(error)
        return None

    # -- parameters to plain values ------------------------------------------------------

    def raster_file(
        self, parameters: dict[str, Any], name: str, context: QgsProcessingContext
    ) -> tuple[QgsRasterLayer | None, str | None]:
        """Return the layer of raster parameter ``name`` and the path of its file."""
        layer = self.parameterAsRasterLayer(parameters, name, context)
        if layer is None:
            return None, None
        return layer, self.layer_file(layer)

    def layer_file(self, layer: QgsRasterLayer) -> str:
        """Path of the file a raster layer reads."""
        if layer.providerType() != "gdal":
            raise QgsProcessingException(self.tr(
                "{} is not a raster file read by GDAL").format(layer.name()))
        decoded = QgsProviderRegistry.instance().decodeUri("gdal", layer.source())
        path = decoded.get("path")
        if not path:
            return layer.source()
        # /vsizip/ and the like: QGIS splits the GDAL name into prefix, archive, member
        return f"{decoded.get('vsiPrefix') or ''}{path}{decoded.get('vsiSuffix') or ''}"

    def output_file(
        self, parameters: dict[str, Any], context: QgsProcessingContext, layer: QgsRasterLayer
    ) -> str:
        """Path of OUTPUT; when loaded on completion, the layer is named after the input."""
        output = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        if context.willLoadLayerOnCompletion(output):
            details = context.layerToLoadOnCompletionDetails(output)
            details.name = f"{self.displayName()} ({layer.name()})"
        return output

    def optional_int(
        self, parameters: dict[str, Any], name: str, context: QgsProcessingContext
    ) -> int | None:
        """Integer value of an optional parameter, None when not set."""
        if parameters.get(name) is None:
            return None
        return self.parameterAsInt(parameters, name, context)

    # -- running -------------------------------------------------------------------------

    def run_engine(
        self,
        call: Callable[..., Any],
        parameters: dict[str, Any],
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
    ) -> Any:
        """Run ``call(riogrande, **run_options)`` and return its report.

        ``run_options`` are the engine's ``block_size``, ``nbrcpu``,
        ``progress`` (to ``feedback.setProgress``), ``cancel``
        (``feedback.isCanceled``) and where the blocks run: threads of QGIS's
        process (``backend`` "threads") when :attr:`in_threads`; else the
        provider's warm pool of spawned workers on QGIS's Python
        (``executor``), or, when another run has it, workers of its own
        (``start_method`` "spawn", ``executable``).

        Raises
        ------
        QgsProcessingException
            For a missing dependency or interpreter, invalid input, a failed
            or cancelled run (no output is left behind).
        """
        try:
            engine = load_engine()
            python = None if self.in_threads else find_python()
        except (MissingDependencyError, InterpreterNotFoundError) as error:
            raise QgsProcessingException(str(error)) from None
        if not hasattr(sys, "argv"):  # some embedded Pythons have none; spawn needs it
            sys.argv = [""]
        side = self.optional_int(parameters, self.BLOCK_SIZE, context)
        workers = self.optional_int(parameters, self.WORKERS, context) or cpu_count()
        if self.in_threads:
            feedback.pushInfo(self.tr("riogrande {} ({}), {} worker thread(s)").format(
                engine.__version__, os.path.dirname(engine.__file__), workers))
        else:
            feedback.pushInfo(self.tr("riogrande {} ({}), {} worker process(es) running {}"
                                      ).format(engine.__version__,
                                               os.path.dirname(engine.__file__), workers, python))

        def progress(done: int, total: int) -> None:
            feedback.setProgress(100.0 * done / total if total else 100.0)

        options = {
            "block_size": None if side is None else (side, side),
            "nbrcpu": workers,
            "progress": progress,
            "cancel": feedback.isCanceled,
        }
        errors = engine.errors
        try:
            if self.in_threads:
                report = call(engine, backend="threads", **options)
            else:
                with WARM_POOL.lend(engine, workers, python) as pool:
                    if pool is None:
                        options.update(start_method="spawn", executable=python)
                    else:
                        options.update(executor=pool)
                    report = call(engine, **options)
        except errors.RunCancelledError:
            raise QgsProcessingException(self.tr("Cancelled: no output was written.")) from None
        except errors.RiograndeError as error:
            remote = getattr(error, "remote_traceback", "")
            if remote:
                feedback.pushDebugInfo(remote)
            raise QgsProcessingException(error.args[0] if error.args else str(error)) from None
        feedback.pushInfo(self.summary(report))
        return report

    def summary(self, report: Any) -> str:
        """What the log says when a run ends (pixel counts of a MaskReport)."""
        return self.tr(
            "{} valid and {} masked pixels; {} blocks of {} x {} pixels in {:.2f} s").format(
            report.valid, report.masked, report.views, *report.block_size, report.seconds)

    def output_and_form(
        self, parameters: dict[str, Any], context: QgsProcessingContext, layer: QgsRasterLayer
    ) -> tuple[str, dict[str, Any]]:
        """The OUTPUT path and riogrande's output keywords (ENCODING, COG...)."""
        return self.output_file(parameters, context, layer), output_form.output_form(
            self, parameters, context)

    def results(self, output: str, report: Any, context: QgsProcessingContext,
                form: dict[str, Any]) -> dict[str, Any]:
        """The algorithm's outputs from a riogrande MaskReport.

        A sidecar is the input's ``.msk`` file: OUTPUT names it, and it is
        not loaded as a layer of its own.
        """
        if form["encoding"] == "sidecar":
            output_form.skip_loading(context, output)
            output = str(report.output)
        return {
            self.OUTPUT: output,
            self.VALID_PIXELS: report.valid,
            self.MASKED_PIXELS: report.masked,
        }
