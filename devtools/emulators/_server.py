"""Plumbing shared by the gRPC emulators: server lifecycle, injected faults, the CLI serve loop.

An emulator subclasses ``EmulatorServer``, registers its handlers in ``_add_handlers`` and runs
every RPC through ``_serve_call``, which counts and logs the call, applies the configured latency
and any injected fault, and turns a raised ``StatusError`` into that gRPC status.
"""

from __future__ import annotations

import argparse
import collections
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent import futures
from dataclasses import dataclass
from types import FrameType, TracebackType
from typing import Self, TypeVar

import grpc

T = TypeVar("T")


class StatusError(Exception):
    """A gRPC status for the RPC to end with; raised by emulator logic, sent by ``_serve_call``."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class _Fault:
    code: grpc.StatusCode
    remaining: int  # -1: until cleared
    message: str
    delay: float


class FaultQueue:
    """Injected faults per RPC method, in order, plus a count of the calls each method received.

    Counting lives here because a call is counted exactly when it asks for its fault, so a
    faulted call is still a call.
    """

    def __init__(self, methods: Iterable[str]) -> None:
        self._methods = frozenset(methods)
        self._lock = threading.Lock()
        self._faults: dict[str, collections.deque[_Fault]] = collections.defaultdict(
            collections.deque
        )
        self.calls: collections.Counter[str] = collections.Counter()

    def inject(
        self, method: str, code: grpc.StatusCode, *, times: int, message: str, delay: float
    ) -> None:
        if method not in self._methods:
            raise ValueError(f"method must be one of {sorted(self._methods)}, not {method!r}")
        if times == 0 or times < -1:
            raise ValueError("times must be positive, or -1 for until cleared")
        with self._lock:
            self._faults[method].append(_Fault(code, times, message, delay))

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def count(self, method: str) -> int:
        with self._lock:
            return self.calls[method]

    def take(self, method: str) -> _Fault | None:
        """Count the call and consume the next armed fault for ``method``, if any."""
        with self._lock:
            self.calls[method] += 1
            queue = self._faults.get(method)
            if not queue:
                return None
            fault = queue[0]
            if fault.remaining > 0:
                fault.remaining -= 1
                if fault.remaining == 0:
                    queue.popleft()
            return fault


class EmulatorServer:
    """A plaintext gRPC server on a local port, with fault injection for its RPC methods."""

    def __init__(self, methods: Iterable[str], *, max_workers: int) -> None:
        self._faults = FaultQueue(methods)
        self._max_workers = max_workers
        # Wakes handlers sleeping in an injected delay, so stop() is not held up by them.
        self._stopping = threading.Event()
        self._server: grpc.Server | None = None
        self._address: str | None = None
        # Seconds every call waits before it is served, as a network and a remote service
        # would make it (benchmarks); 0 by default.
        self.latency = 0.0
        # (time.monotonic() on arrival, method, resource) of every call, so a test or benchmark
        # can check the pacing of what arrived; and the most calls ever in progress at once.
        self.received: collections.deque[tuple[float, str, str]] = collections.deque(
            maxlen=1_000_000
        )
        self.peak_in_flight = 0
        self._in_flight = 0
        self._flight_lock = threading.Lock()

    def _add_handlers(self, server: grpc.Server) -> None:
        raise NotImplementedError

    # lifecycle

    @property
    def address(self) -> str:
        """``host:port`` to dial, once started."""
        if self._address is None:
            raise RuntimeError(f"{type(self).__name__} is not started; call start() first")
        return self._address

    def start(self, port: int = 0, host: str = "127.0.0.1") -> str:
        """Serve on ``host:port`` (0 picks a free port) and return the address."""
        if self._server is not None:
            raise RuntimeError(f"{type(self).__name__} is already started")
        # Enough workers that concurrency tests really run in parallel and delayed faults do not
        # starve other calls; so_reuseport off so a taken port fails instead of being shared
        # (two emulators on one port would split requests between them).
        server = grpc.server(
            futures.ThreadPoolExecutor(self._max_workers, thread_name_prefix=type(self).__name__),
            options=[("grpc.so_reuseport", 0)],
        )
        self._add_handlers(server)
        bind_host = f"[{host}]" if ":" in host else host  # IPv6 literals need brackets
        try:
            bound = server.add_insecure_port(f"{bind_host}:{port}")
        except RuntimeError as exc:  # grpc's way of saying the bind failed
            raise OSError(f"cannot listen on {bind_host}:{port}: {exc}") from exc
        if not bound:  # older grpc releases return 0 instead of raising
            raise OSError(f"cannot listen on {bind_host}:{port}")
        self._stopping.clear()
        server.start()
        self._server = server
        self._address = f"{bind_host}:{bound}"
        return self._address

    def stop(self) -> None:
        """Stop serving, cancelling in-flight calls. Safe to call twice."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.stop(grace=None).wait(5)

    def __enter__(self) -> Self:
        """Start on a free localhost port unless already started."""
        if self._server is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # faults

    def inject_fault(
        self,
        method: str,
        code: grpc.StatusCode,
        *,
        times: int = 1,
        message: str = "injected fault",
        delay: float = 0.0,
    ) -> None:
        """Make the next ``times`` calls of RPC ``method`` fail with ``code`` (-1: until
        :meth:`clear_faults`), after sleeping ``delay`` seconds. Faults fire before the RPC
        touches any state, and faults for one method queue up in the order injected.

        ``code=grpc.StatusCode.OK`` only delays, then serves the call normally: the client may
        give up on its deadline while the change still happens, as with a real timeout.
        """
        self._faults.inject(method, code, times=times, message=message, delay=delay)

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        self._faults.clear()

    def _serve_call(
        self,
        method: str,
        context: grpc.ServicerContext,
        handler: Callable[[], T],
        resource: str = "",
    ) -> T:
        """Count and log the call, wait the latency, apply any injected fault, then run
        ``handler``; abort on status."""
        self.received.append((time.monotonic(), method, resource))
        with self._flight_lock:
            self._in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
        try:
            if self.latency > 0:
                self._stopping.wait(self.latency)
            fault = self._faults.take(method)
            if fault is not None:
                self._stopping.wait(fault.delay)  # outside any lock: other calls go on meanwhile
                if fault.code != grpc.StatusCode.OK:
                    context.abort(fault.code, fault.message)
            try:
                return handler()
            except StatusError as status:
                context.abort(status.code, status.message)
                raise  # unreachable: abort raises; keeps the type checker honest
        finally:
            with self._flight_lock:
                self._in_flight -= 1


def argument_parser(module: str, description: str, *, default_port: int) -> argparse.ArgumentParser:
    """A parser with the ``--host``/``--port`` options that devtools/processes.py passes to
    every emulator entry point."""
    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=default_port, help="0 picks a free port")
    return parser


def serve_until_signalled(
    emulator: EmulatorServer,
    banner: str,
    *,
    host: str,
    port: int,
    before_banner: Callable[[], None] | None = None,
) -> int:
    """Serve until SIGINT/SIGTERM for a ``python -m`` entry point; return the exit code.

    Prints ``<banner> listening on <address>`` once, flushed, after ``before_banner`` has run:
    scripts wait for exactly that line, so anything it promises must be ready first.
    """
    stopping = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        address = emulator.start(port=port, host=host)
    except OSError as exc:
        print(f"{banner}: {exc}", file=sys.stderr)
        return 1
    try:
        if before_banner is not None:
            before_banner()
        print(f"{banner} listening on {address}", flush=True)
        # A timeout keeps the main thread waking up, so signals are handled promptly.
        while not stopping.wait(0.5):
            pass
    finally:
        emulator.stop()
    return 0
