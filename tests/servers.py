"""Servers the tests and benchmarks start themselves, on 127.0.0.1 only.

:class:`RangeServer` serves the files of a folder over HTTP with range
requests (single and multiple ranges), as object storage does, with a
latency added to every answer and faults injected on purpose: HTTP 503 and
429, a connection cut in the middle of a body, a body shorter than its
``Content-Length``, a request never answered. It counts the requests and
the bytes it sends and keeps every range asked for. :class:`S3Server` is
moto's S3-compatible server, with fake credentials. Both run in a process of
their own and stop at the end of their ``with`` block.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import random
import re
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

HOST = "127.0.0.1"

#: Processes of the servers running now (they are not a run's workers).
SERVER_PIDS: set[int] = set()
#: Faults a request can meet.
FAULTS = ("503", "429", "cut", "short")
#: How long a ``"stall"`` fault keeps a request unanswered before closing its connection
#: (longer than any client's time-out in the tests).
STALL_SECONDS = 30.0
_RANGE = re.compile(r"(\d*)-(\d*)")


@dataclass
class Faults:
    """Which requests fail, and how.

    Attributes
    ----------
    rate : float
        Share of the body requests (GET) that fail, drawn at random.
    kinds : tuple of str
        The faults drawn from (:data:`FAULTS`).
    seed : int
        Seed of the draws.
    next : list of str or None
        Faults of the next body requests, in order (None: none), before any
        drawn one. Besides :data:`FAULTS`, ``"gone"``: the server's process
        ends at once, as a server that stops in the middle of a run; and
        ``"stall"``: the request gets no answer for :data:`STALL_SECONDS`.
    """

    rate: float = 0.0
    kinds: tuple[str, ...] = FAULTS
    seed: int = 0
    next: list[str | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:  # sent to the server's process
        return {"rate": self.rate, "kinds": self.kinds, "seed": self.seed, "next": self.next}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__post_init__()

    def draw(self) -> str | None:
        """The fault of a new body request, or None."""
        with self._lock:
            if self.next:
                return self.next.pop(0)
            if self.rate and self._random.random() < self.rate:
                return self._random.choice(self.kinds)
        return None


@dataclass
class Traffic:
    """What a :class:`RangeServer` was asked and sent."""

    requests: int = 0
    bytes: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    ranges: list[tuple[str, int, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def fetched(self, path: str) -> list[tuple[int, int]]:
        """The ``(first, last)`` byte ranges of ``path`` sent whole, in order."""
        return [(first, last) for name, first, last in self.ranges if name == path]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    #: Each write leaves at once (``TCP_NODELAY``), as from a bucket's servers: with
    #: Nagle's algorithm, a body sent after its headers would wait for the client's
    #: delayed acknowledgement, about 40 ms per answer.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base's name)
        """Quiet: the tests read :class:`Traffic` instead."""

    def _file(self) -> Path | None:
        name = self.path.split("?", 1)[0].lstrip("/")
        path = (self.server.root / name).resolve()
        if self.server.root not in path.parents or not path.is_file():
            return None
        return path

    def _count(self, sent: int, fault: str | None = None) -> None:
        traffic = self.server.traffic
        with traffic.lock:
            traffic.requests += 1
            traffic.bytes += sent
            if fault is not None:
                traffic.faults[fault] = traffic.faults.get(fault, 0) + 1

    def _served(self) -> Path | None:
        """After the latency, the file asked for; None when absent (answered 404)."""
        time.sleep(self.server.latency)
        path = self._file()
        if path is None:
            self._count(0)
            self.send_error(404)
        return path

    def do_HEAD(self) -> None:  # noqa: N802 (http.server's name)
        """Size of the file, ranges accepted."""
        path = self._served()
        if path is None:
            return
        self.send_response(200)
        self.send_header("Content-Length", str(path.stat().st_size))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        self._count(0)

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        """The file, or the ranges asked for, after the latency; faults as drawn."""
        path = self._served()
        if path is None:
            return
        size = path.stat().st_size
        ranges = self._ranges(size)
        if ranges == []:
            self._count(0)
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        fault = self.server.faults.draw()
        if fault == "gone":
            os._exit(0)
        if fault == "stall":
            self._count(0, fault)
            time.sleep(STALL_SECONDS)
            self.close_connection = True
            return
        if fault in ("503", "429"):
            self._count(0, fault)
            self.send_response(int(fault))
            if fault == "429":
                self.send_header("Retry-After", "0")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if fault is None and (ranges is None or len(ranges) == 1):
            self._send_file(path, size, ranges[0] if ranges else None)
            return
        with path.open("rb") as handle:
            parts = [(first, last, _read(handle, first, last)) for first, last in ranges or
                     [(0, size - 1)]]
        body, headers, status = _body(parts, size, ranges is not None)
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if fault in ("cut", "short"):
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            self._count(len(body) // 2, fault)
            self.close_connection = True
            if fault == "cut":
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body)
        self._count(len(body))
        with self.server.traffic.lock:
            self.server.traffic.ranges.extend((path.name, first, last)
                                              for first, last, _ in parts)

    def _send_file(self, path: Path, size: int, span: tuple[int, int] | None) -> None:
        """The file or one range of it, sent by the kernel (``sendfile``): a bucket's
        answers cost the machine's CPUs nothing, and neither do these."""
        first, last = span or (0, size - 1)
        self.send_response(206 if span else 200)
        self.send_header("Content-Length", str(last - first + 1))
        if span:
            self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        else:
            self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        with path.open("rb") as handle:
            self.connection.sendfile(handle, first, last - first + 1)
        self._count(last - first + 1)
        with self.server.traffic.lock:
            self.server.traffic.ranges.append((path.name, first, last))

    def _ranges(self, size: int) -> list[tuple[int, int]] | None:
        """The ranges of the ``Range`` header (None: the whole file; []: none satisfiable)."""
        header = self.headers.get("Range")
        if not header or not header.startswith("bytes="):
            return None
        ranges = []
        for item in header[len("bytes="):].split(","):
            match = _RANGE.fullmatch(item.strip())
            if match is None:
                return None
            first, last = match.groups()
            if first == "":  # the last bytes
                start, end = max(0, size - int(last)), size - 1
            else:
                start, end = int(first), min(size - 1, int(last) if last else size - 1)
            if start <= end:
                ranges.append((start, end))
        return ranges


def _read(handle: Any, first: int, last: int) -> bytes:
    handle.seek(first)
    return handle.read(last - first + 1)


def _body(parts: Sequence[tuple[int, int, bytes]], size: int, ranged: bool
          ) -> tuple[bytes, dict[str, str], int]:
    """The body, headers and status of one range (206), several (multipart) or the file."""
    if not ranged:
        return parts[0][2], {"Content-Length": str(size), "Accept-Ranges": "bytes"}, 200
    if len(parts) == 1:
        first, last, data = parts[0]
        return data, {"Content-Length": str(len(data)),
                      "Content-Range": f"bytes {first}-{last}/{size}"}, 206
    boundary = "RIOGRANDE_TEST_BOUNDARY"
    chunks = []
    for first, last, data in parts:
        chunks.append(f"\r\n--{boundary}\r\nContent-Type: application/octet-stream\r\n"
                      f"Content-Range: bytes {first}-{last}/{size}\r\n\r\n".encode() + data)
    body = b"".join(chunks) + f"\r\n--{boundary}--\r\n".encode()
    return body, {"Content-Length": str(len(body)),
                  "Content-Type": f"multipart/byteranges; boundary={boundary}"}, 206


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # A bucket takes every connection at once. With socketserver's backlog of 5, the
    # connections of 16 download threads beyond it were dropped and tried again by the
    # client's kernel 1 s later.
    request_queue_size = 128
    root: Path
    latency: float
    faults: Faults
    traffic: Traffic


def _serve_files(root: str, latency: float, faults: Faults, control: Any) -> None:
    """The server process of :class:`RangeServer`: serve, answer ``control``'s questions."""
    server = _Server((HOST, 0), _Handler)
    server.root = Path(root).resolve()
    server.latency = latency
    server.faults = faults
    server.traffic = Traffic()
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    control.send(server.server_address[1])
    while True:
        try:
            command, value = control.recv()
        except EOFError:  # the test process is gone
            command, value = "stop", None
        if command == "traffic":
            with server.traffic.lock:
                control.send((server.traffic.requests, server.traffic.bytes,
                              dict(server.traffic.faults), list(server.traffic.ranges)))
        elif command == "faults":
            server.faults = value
            control.send(None)
        else:
            server.shutdown()
            server.server_close()
            control.send(None)
            return


class _ServerProcess:
    """A server in a spawned process of its own, driven through a pipe.

    The process sends the port it serves on once it is ready, and ends when
    it receives ``("stop", None)`` (answering ``None``) or its pipe closes.
    """

    def __init__(self) -> None:
        self._control: Any = None
        self._process: Any = None
        self.port = 0

    def _spawn(self, target: Any, args: tuple[Any, ...], timeout: float, what: str) -> None:
        """Start ``target(*args, pipe)`` and wait up to ``timeout`` seconds for its port."""
        context = multiprocessing.get_context("spawn")
        self._control, child = context.Pipe()
        self._process = context.Process(target=target, args=(*args, child), daemon=True)
        self._process.start()
        SERVER_PIDS.add(self._process.pid)
        child.close()
        if not self._control.poll(timeout):
            self._process.kill()
            raise RuntimeError(f"the {what} did not start within {timeout:g} s")
        self.port = int(self._control.recv())

    def start(self) -> Self:
        """Start the server."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop the server (answers in progress end with it) and end its process."""
        if self._process is None:
            return
        with contextlib.suppress(OSError, EOFError):
            self._control.send(("stop", None))
            self._control.poll(5) and self._control.recv()
        self._process.join(5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        SERVER_PIDS.discard(self._process.pid)
        self._control.close()
        self._process = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class RangeServer(_ServerProcess):
    """An HTTP server of the files of ``root``, with range requests, latency and faults.

    It runs in a process of its own: GDAL makes some requests while rasterio
    holds Python's lock, which a server thread of the same process would
    need to answer them.

    Parameters
    ----------
    root : path-like
        The folder served.
    latency : float, default 0
        Seconds every answer waits (a round trip to a bucket).
    faults : Faults, optional
        The requests that fail.

    Examples
    --------
    >>> with RangeServer(folder, latency=0.05) as server:  # doctest: +SKIP
    ...     url = server.url("raster.tif")
    """

    def __init__(self, root: str | os.PathLike[str], latency: float = 0.0,
                 faults: Faults | None = None) -> None:
        super().__init__()
        self._root = os.fspath(Path(root).resolve())
        self._latency = latency
        self._faults = faults or Faults()

    @property
    def traffic(self) -> Traffic:
        """What it was asked and sent so far."""
        self._control.send(("traffic", None))
        requests, sent, faults, ranges = self._control.recv()
        return Traffic(requests, sent, faults, ranges)

    def set_faults(self, faults: Faults) -> None:
        """The faults of the requests to come."""
        self._control.send(("faults", faults))
        self._control.recv()

    def url(self, name: str) -> str:
        """The URL of the file ``name`` of the folder."""
        return f"http://{HOST}:{self.port}/{name}"

    def start(self) -> RangeServer:
        """Start serving, in a process of its own."""
        self._spawn(_serve_files, (self._root, self._latency, self._faults), 60,
                    "range server")
        return self


#: Fake credentials of the S3 server's set-up calls: nothing real is ever used.
FAKE_KEY_ID = "riogrande-test-key"
FAKE_SECRET = "riogrande-test-secret-not-real"


def _serve_s3(control: Any) -> None:
    """The server process of :class:`S3Server`: signatures checked once a user has keys."""
    os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = str(len(_IAM_SET_UP))  # before moto reads it
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    server = ThreadedMotoServer(ip_address=HOST, port=0, verbose=False)
    server.start()
    control.send(int(server._server.server_port))  # the port the system chose
    with contextlib.suppress(EOFError):
        control.recv()
    server.stop()
    with contextlib.suppress(OSError):
        control.send(None)


#: The calls that give the server's user its keys, the only ones made without them.
_IAM_SET_UP = ("create_user", "put_user_policy", "create_access_key")


class S3Server(_ServerProcess):
    """moto's S3-compatible server on 127.0.0.1, in a process of its own.

    Requests are signed with the fake keys of a user the server makes at
    start (a wrong secret is refused, as by S3); :meth:`gdal_env` gives the
    GDAL/AWS settings that point rasterio at it.
    """

    def __init__(self) -> None:
        super().__init__()
        self.key_id = ""
        self.secret = ""

    def start(self) -> S3Server:
        """Start the server."""
        self._spawn(_serve_s3, (), 120, "S3 server")
        self._make_user()
        return self

    def _make_user(self) -> None:
        import boto3

        iam = boto3.client("iam", endpoint_url=self.endpoint, region_name="us-east-1",
                           aws_access_key_id=FAKE_KEY_ID, aws_secret_access_key=FAKE_SECRET)
        iam.create_user(UserName="riogrande-test")
        iam.put_user_policy(UserName="riogrande-test", PolicyName="everything",
                            PolicyDocument='{"Version": "2012-10-17", "Statement": [{"Effect": '
                                           '"Allow", "Action": "*", "Resource": "*"}]}')
        key = iam.create_access_key(UserName="riogrande-test")["AccessKey"]
        self.key_id, self.secret = key["AccessKeyId"], key["SecretAccessKey"]

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{HOST}:{self.port}"

    def gdal_env(self) -> dict[str, str]:
        """GDAL's and AWS's settings for this server (plain HTTP, path-style addresses)."""
        return {"AWS_S3_ENDPOINT": f"{HOST}:{self.port}", "AWS_HTTPS": "NO",
                "AWS_VIRTUAL_HOSTING": "FALSE", "AWS_ACCESS_KEY_ID": self.key_id,
                "AWS_SECRET_ACCESS_KEY": self.secret, "AWS_REGION": "us-east-1",
                "AWS_NO_SIGN_REQUEST": "NO"}

    def client(self) -> Any:
        """A boto3 client of the server (to make buckets and look at objects)."""
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=self.key_id, aws_secret_access_key=self.secret)



@contextlib.contextmanager
def environment(settings: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the ``with`` block, then put the old values back."""
    previous = {key: os.environ.get(key) for key in settings}
    os.environ.update(settings)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
