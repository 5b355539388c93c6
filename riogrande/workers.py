"""Worker functions: read one view, apply a task, put the result on a queue."""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from riogrande.io.rasters import Band, Source
from riogrande.prepare import get_view, relative_view, view_to_window
from riogrande.timing import TimedTask


def runner_call(
    queue: Any,
    callback: Callable[..., Any],
    params: dict[str, Any],
    wrapper: Callable[[Any], Any] | None = None,
) -> Any:
    """Call ``callback(**params)`` and put the (wrapped) result into ``queue``.

    Parameters
    ----------
    queue : queue-like
        Anything with ``put`` (a :class:`multiprocessing.Queue`, a
        :class:`queue.Queue`, ...).
    callback : callable
        Function to call.
    params : dict
        Keyword arguments for ``callback``.
    wrapper : callable or None
        Applied to the result before it is enqueued.

    Returns
    -------
    object
        The unwrapped result.
    """
    out = callback(**params)
    queue.put(wrapper(out) if wrapper is not None else out)
    return out


def _message(view: Sequence[int], data: Any) -> dict[str, Any]:
    return {"view": tuple(view), "data": data}


def process_block(
    task: Callable[..., Any],
    source: str | os.PathLike[str] | Source,
    bands: Collection[Band | int] | None,
    view: Sequence[int],
    task_params: dict[str, Any] | None,
    read_params: dict[str, Any] | None,
    open_params: dict[str, Any] | None,
    out_q: Any,
    *,
    inner_view: Sequence[int] | None = None,
) -> TimedTask:
    """Read a view of ``bands`` from ``source``, apply ``task``, enqueue the result.

    Parameters
    ----------
    task : callable
        ``task(data, **task_params)``; ``data`` is ``(len(bands), rows, cols)``.
        Must be defined at module level to reach spawned workers.
    source : str, path-like or Source
        The raster.
    bands : collection of Band or int, or None
        Bands to read (all when None).
    view : tuple of int
        ``(x, y, width, height)`` to read.
    task_params : dict or None
        Keyword arguments of ``task``.
    read_params : dict or None
        Keyword arguments of the read call (e.g. ``masked``, ``boundless``).
    open_params : dict or None
        Keyword arguments of the open call (:meth:`Source.data_reader`).
    out_q : queue-like
        Receives ``{"view": view, "data": task_output}``.
    inner_view : tuple of int, optional
        When ``view`` includes a border, the part of the raster this block is
        responsible for: the task output is cropped to it and enqueued with
        ``inner_view`` as its view (see :func:`~riogrande.prepare.create_views`).

    Returns
    -------
    TimedTask
        How long reading and processing took.
    """
    with TimedTask() as timer:
        if not isinstance(source, Source):
            source = Source(source)
        with source.data_reader(bands, **(open_params or {})) as read:
            data = read(window=view_to_window(view), **(read_params or {}))
        out = task(data, **(task_params or {}))
        if inner_view is not None:
            out = get_view(np.asarray(out), relative_view(view, inner_view))
        out_q.put(_message(view if inner_view is None else inner_view, out))
    return timer


def process_masks(
    task: Callable[..., Any],
    bands: Collection[Band],
    view: Sequence[int],
    task_params: dict[str, Any] | None,
    read_params: dict[str, Any] | None,
    open_params: dict[str, Any] | None,
    aggr_q: Any,
    extra_masking_band: Band | None = None,
) -> TimedTask:
    """Read the masks of ``bands`` over a view, apply ``task``, enqueue the result.

    Parameters
    ----------
    task : callable
        ``task(masks, **task_params)``; ``masks`` is a list of 2-D arrays,
        one per band, then one for ``extra_masking_band``: 0 is masked. A
        band's own or the dataset mask is ``uint8`` (255 valid); the readers
        ``"mask_none"`` and ``"mask_all"`` give ``int64`` 1 or 0.
    bands : collection of Band
        Each band's mask is read with the reader chosen by
        :meth:`Band.set_mask_reader` (:meth:`Band.get_mask_reader`).
    view : tuple of int
        ``(x, y, width, height)`` to read.
    task_params : dict or None
        Keyword arguments of ``task``.
    read_params : dict or None
        Keyword arguments of the read calls.
    open_params : dict or None
        Keyword arguments of the open calls.
    aggr_q : queue-like
        Receives ``{"view": view, "data": task_output}``.
    extra_masking_band : Band or None
        Its *data* is a mask: 0 = masked, anything else valid. Its own mask is
        ignored.

    Returns
    -------
    TimedTask
        How long reading and processing took.
    """
    with TimedTask() as timer:
        window = view_to_window(view)
        open_params = open_params or {}
        read_params = read_params or {}
        masks = []
        for band in bands:
            with band.get_mask_reader()(**open_params) as read:
                masks.append(read(window=window, **read_params))
        if extra_masking_band is not None:
            with extra_masking_band.data_reader(**open_params) as read:
                masks.append((read(window=window, **read_params) != 0).view(np.uint8))
        aggr_q.put(_message(view, task(masks, **(task_params or {}))))
    return timer


def selector_block(
    bands: Sequence[Band],
    view: Sequence[int],
    aggr_q: Any,
    extra_masking_band: Band | None = None,
) -> TimedTask:
    """The valid-pixel selector of ``bands`` over a view, enqueued like :func:`process_masks`.

    The masks are read one after the other and combined as they come; once
    no pixel of the view is left valid, the other masks cannot change the
    answer and are not read (a remote file's tiles are not fetched).

    Parameters
    ----------
    bands : list of Band
        Their masks, read with the reader chosen by :meth:`Band.set_mask_reader`.
    view : tuple of int
        ``(x, y, width, height)`` to read.
    aggr_q : queue-like
        Receives ``{"view": view, "data": selector}``, ``selector`` a
        ``bool`` array, True where every mask is valid.
    extra_masking_band : Band or None
        Its *data* is a mask: 0 = masked.

    Returns
    -------
    TimedTask
        How long reading and combining took.
    """
    with TimedTask() as timer:
        window = view_to_window(view)
        readers = [band.get_mask_reader() for band in bands]
        if extra_masking_band is not None:
            readers.append(extra_masking_band.data_reader)
        selector: NDArray | None = None
        for reader in readers:
            with reader() as read:
                mask = read(window=window)
            valid = np.asarray(mask) != 0
            selector = valid if selector is None else np.logical_and(selector, valid,
                                                                     out=selector)
            if not selector.any():
                break
        aggr_q.put(_message(view, selector))
    return timer


def block_jobs(
    task: Callable[..., Any],
    source: str | os.PathLike[str] | Source,
    views: Sequence[Sequence[int]],
    *,
    bands: Collection[Band | int] | None = None,
    task_params: dict[str, Any] | None = None,
    inner_views: Sequence[Sequence[int]] | None = None,
) -> list[dict[str, Any]]:
    """Build the :func:`process_block` arguments for each view.

    Parameters
    ----------
    task : callable
        Module-level function ``task(data, **task_params)``.
    source : str, path-like or Source
        The raster to read.
    views : list of tuple
        Views to read, e.g. the first list returned by
        :func:`~riogrande.prepare.create_views`.
    bands : collection of Band or int, optional
        Bands to read; all by default.
    task_params : dict, optional
        Keyword arguments of ``task``.
    inner_views : list of tuple, optional
        With a border: the second list of
        :func:`~riogrande.prepare.create_views`; each result is cropped to it.

    Returns
    -------
    list of dict
        One job per view, for :func:`riogrande.runner.run_views`.
    """
    if not isinstance(source, Source):
        source = Source(source)
    jobs = []
    for index, view in enumerate(views):
        job = {
            "task": task,
            "source": source,
            "bands": None if bands is None else list(bands),
            "view": tuple(view),
            "task_params": dict(task_params or {}),
            "read_params": {},
            "open_params": {},
        }
        if inner_views is not None:
            job["inner_view"] = tuple(inner_views[index])
        jobs.append(job)
    return jobs
