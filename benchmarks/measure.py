"""Run a command in a fresh process and measure it from outside.

A thread of the calling process samples, every ``interval`` seconds, the
resident memory of the started process and of all its descendants, and keeps
the maximum of the sum (and the started process's own maximum). The measured
program prints one JSON line on stdout (its own wall and CPU time of the
timed part); it is returned alongside the sampled figures and the process's
total wall and CPU time (start-up included) from ``wait4``.

Before the first run, riogrande's bytecode is compiled, as ``pip install``
leaves it: the measured start-up is a user's, even where
``PYTHONDONTWRITEBYTECODE`` is set and would make every run compile the
package again while the libraries installed by pip come compiled.
"""

from __future__ import annotations

import compileall
import functools
import json
import os
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psutil

import riogrande

_PROC = "/proc"


def _children_linux(pid: int) -> list[int]:
    """Direct children of ``pid`` from ``/proc/PID/task/TID/children`` (cheap)."""
    children: list[int] = []
    try:
        tasks = os.listdir(f"{_PROC}/{pid}/task")
    except OSError:
        return children
    for tid in tasks:
        try:
            with open(f"{_PROC}/{pid}/task/{tid}/children") as handle:
                children.extend(int(child) for child in handle.read().split())
        except OSError:
            continue
    return children


_HAS_PROC_CHILDREN = os.path.exists(f"{_PROC}/self/task/{os.getpid()}/children")


def tree_pids(root: int) -> list[int]:
    """``root`` and all its descendants.

    On Linux the tree is walked through ``/proc/PID/task/TID/children``, which
    costs a few file reads; :meth:`psutil.Process.children` scans every process
    of the machine (about 1 ms), too much to do every 10 ms next to the
    measured processes on a 2-core machine.
    """
    if not _HAS_PROC_CHILDREN:
        try:
            process = psutil.Process(root)
            return [root, *(child.pid for child in process.children(recursive=True))]
        except psutil.Error:
            return []
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        todo.extend(_children_linux(pid))
    return pids


class TreeSampler(threading.Thread):
    """Sample the summed RSS of a process tree until stopped."""

    def __init__(self, root: int, interval: float = 0.01) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.root = root
        self.interval = interval
        self.peak_total = 0
        self.peak_root = 0
        self.peak_processes = 0
        self.samples = 0
        self._stopping = threading.Event()
        self._processes: dict[int, psutil.Process] = {}

    def _rss(self, pid: int) -> int:
        process = self._processes.get(pid)
        if process is None:
            process = self._processes[pid] = psutil.Process(pid)
        return process.memory_info().rss

    def sample(self) -> None:
        total = 0
        pids = tree_pids(self.root)
        for pid in pids:
            try:
                rss = self._rss(pid)
            except psutil.Error:
                self._processes.pop(pid, None)
                continue
            total += rss
            if pid == self.root:
                self.peak_root = max(self.peak_root, rss)
        self.peak_total = max(self.peak_total, total)
        self.peak_processes = max(self.peak_processes, len(pids))
        self.samples += 1

    def run(self) -> None:
        while not self._stopping.is_set():
            self.sample()
            self._stopping.wait(self.interval)

    def stop(self) -> None:
        self._stopping.set()
        self.join()


def _busy_cpu_seconds() -> float:
    """CPU seconds the whole machine spent busy (all cores) since boot."""
    times = psutil.cpu_times()._asdict()
    # guest times are already counted in user/nice; steal is CPU the machine did not get
    busy = ("user", "nice", "system", "irq", "softirq", "steal")
    return sum(times.get(name, 0.0) for name in busy)


def _own_cpu_seconds() -> float:
    """CPU seconds of this (the measuring) process."""
    times = os.times()
    return times.user + times.system


@dataclass
class Measurement:
    """What one measured run gave."""

    returncode: int
    report: dict[str, Any]
    wall_total: float
    cpu_total: float
    peak_rss_total: int
    peak_rss_root: int
    max_processes: int
    samples: int
    other_load: float
    stderr: str = field(repr=False, default="")


@functools.cache
def compile_riogrande() -> None:
    """Write the bytecode of every riogrande module (once per benchmark)."""
    compileall.compile_dir(os.path.dirname(riogrande.__file__), quiet=1)


def run_measured(command: Sequence[str], env: dict[str, str] | None = None,
                 interval: float = 0.01) -> Measurement:
    """Run ``command`` (a program printing one JSON line last) and measure it.

    ``other_load`` is the average number of cores kept busy during the run by
    processes outside the measured tree and this one (other people's work on
    a shared machine): when it is high, wall times are inflated.
    """
    compile_riogrande()
    machine_before, own_before = _busy_cpu_seconds(), _own_cpu_seconds()
    started = time.perf_counter()
    process = subprocess.Popen(list(command), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=env, text=True)
    sampler = TreeSampler(process.pid, interval)
    sampler.start()
    output: dict[str, str] = {}

    def drain(name: str, stream: Any) -> None:
        output[name] = stream.read()

    readers = [threading.Thread(target=drain, args=(name, stream), daemon=True)
               for name, stream in (("stdout", process.stdout), ("stderr", process.stderr))]
    for reader in readers:
        reader.start()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    machine_busy = _busy_cpu_seconds() - machine_before
    own = _own_cpu_seconds() - own_before
    sampler.stop()
    for reader in readers:
        reader.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    report: dict[str, Any] = {}
    lines = [line for line in output.get("stdout", "").splitlines() if line.strip()]
    if process.returncode == 0 and lines:
        report = json.loads(lines[-1])
    return Measurement(
        returncode=process.returncode,
        report=report,
        wall_total=wall,
        cpu_total=cpu,
        peak_rss_total=sampler.peak_total,
        peak_rss_root=sampler.peak_root,
        max_processes=sampler.peak_processes,
        samples=sampler.samples,
        other_load=max(0.0, machine_busy - own - cpu) / wall if wall > 0 else 0.0,
        stderr=output.get("stderr", ""),
    )

