"""Which finished calls get an access-log line (`rpc.finished`, `rest.finished`).

Logging every call costs a structured log line per read, the largest single share of a
GetService's server time; the metrics (`--metrics-listen`) count and time every call anyway.
So the operator chooses (`--access-log`):

- `all`: every call;
- `changes` (the server's default): every call that may change something (a contract RPC
  that is not a `Get`/`List`/`Stream`/`Query` read; a REST method other than GET, HEAD and
  OPTIONS), every error and every slow call;
- `errors`: every error and every slow call.

An error is a gRPC status other than OK (a response stream its client cancelled is not one:
that is how a subscriber leaves), or an HTTP status of 400 or more; a slow call took
`slow_seconds` or longer (`--access-log-slow-ms`; a response stream is never "slow", it is
meant to last).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

AccessMode = Literal["all", "changes", "errors"]
MODES: tuple[AccessMode, ...] = ("all", "changes", "errors")
CONTRACT_PREFIX = "/mef.lso.interlude.v1."
_READS = ("Get", "List", "Stream", "Query")
_REST_READS = frozenset({"GET", "HEAD", "OPTIONS"})


@functools.lru_cache(maxsize=512)  # per method name: a call asks for every one it serves
def rpc_changes(method: str) -> bool:
    """Whether a gRPC method (`/package.Service/Method`) may change something: a contract RPC
    that is not a read. Health, reflection and the southbound stream are not changes."""
    if not method.startswith(CONTRACT_PREFIX):
        return False
    return not method.rsplit("/", 1)[-1].startswith(_READS)


@dataclass(frozen=True)
class AccessPolicy:
    """What the access log keeps (see the module docstring); the default keeps everything."""

    mode: AccessMode = "all"
    slow_seconds: float = 0.5

    def rpc(self, method: str, failed: bool, seconds: float, streaming: bool = False) -> bool:
        """Whether a finished RPC is logged."""
        if self.mode == "all" or failed or (seconds >= self.slow_seconds and not streaming):
            return True
        return self.mode == "changes" and rpc_changes(method)

    def rest(self, http_method: str, status: int, seconds: float) -> bool:
        """Whether a finished REST request is logged."""
        if self.mode == "all" or status >= 400 or seconds >= self.slow_seconds:
            return True
        return self.mode == "changes" and http_method not in _REST_READS
