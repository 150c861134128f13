"""The exit codes of `interlude`, documented in `interlude --help` and the README."""

from __future__ import annotations

import grpc

from interlude_client.errors import InterludeError

OK = 0
# a followed order ended failed/partial/rejected/cancelled, a test or FM job cancelled/rejected,
# a PM job task rejected, or an ad-hoc PM report failed/rejected
NOT_COMPLETED = 1
USAGE = 2  # a bad command line or input file
REFUSED = 3  # the server refused the request: invalid, policy, conflict, stale etag, reused request_id
NOT_FOUND = 4  # no such resource (for this buyer)
DENIED = 5  # unauthenticated or not permitted (e.g. CONNECTIVITY_NOT_PERMITTED)
UNAVAILABLE = 6  # the server cannot be reached, is shutting down, or the deadline passed
ERROR = 7  # any other server error (INTERNAL with an incident id, UNIMPLEMENTED, ...)
TEST_FAILED = 8  # a followed test completed and a run's verdict is FAIL (a threshold was missed)
TEST_UNDECIDED = 9  # a followed test completed without a FAIL but a run is INCONCLUSIVE or ERROR
INTERRUPTED = 130  # Ctrl-C
PIPE_CLOSED = 141  # whoever read the output stopped reading (`| head`): 128 + SIGPIPE, like `yes | head`

_BY_CODE = {
    grpc.StatusCode.INVALID_ARGUMENT: REFUSED,
    grpc.StatusCode.FAILED_PRECONDITION: REFUSED,
    grpc.StatusCode.ALREADY_EXISTS: REFUSED,
    grpc.StatusCode.ABORTED: REFUSED,
    grpc.StatusCode.OUT_OF_RANGE: REFUSED,
    grpc.StatusCode.NOT_FOUND: NOT_FOUND,
    grpc.StatusCode.UNAUTHENTICATED: DENIED,
    grpc.StatusCode.PERMISSION_DENIED: DENIED,
    grpc.StatusCode.UNAVAILABLE: UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED: UNAVAILABLE,
}

EPILOG = """exit codes:
  0    success
  1    a followed order ended failed, partial, rejected or cancelled;
       a followed test or FM job ended cancelled or rejected;
       a followed PM task was rejected, or an ad-hoc PM report failed or was rejected
  2    bad command line or input file
  3    request refused (INVALID_ARGUMENT, FAILED_PRECONDITION, ALREADY_EXISTS, ABORTED, OUT_OF_RANGE)
  4    NOT_FOUND
  5    UNAUTHENTICATED or PERMISSION_DENIED
  6    UNAVAILABLE or DEADLINE_EXCEEDED (server unreachable, shutting down, too slow)
  7    any other error (INTERNAL, UNIMPLEMENTED, ...)
  8    a followed test completed with verdict FAIL (a threshold was missed)
  9    a followed test completed with verdict INCONCLUSIVE or ERROR (not decided / not carried out)
  130  interrupted
  141  the reader of the output went away (e.g. `interlude ... | head`); nothing is printed"""


class UsageError(Exception):
    """A problem with what the user typed or gave as a file (exit code 2)."""


def for_error(error: InterludeError) -> int:
    return _BY_CODE.get(error.code, ERROR)
