"""The one place that maps errors to gRPC status codes (handlers never choose a code themselves).

Teacher errors map by kind (`TeacherInputError` -> INVALID_ARGUMENT, `TeacherLimitError` and
`TeacherOverloadedError` -> RESOURCE_EXHAUSTED, the latter with a retry hint, `TeacherUnavailableError` ->
UNAVAILABLE, `TeacherAnswerError` (the model computed NaN) -> INTERNAL with its message); malformed tensors
are INVALID_ARGUMENT; a request that waited past its deadline is DEADLINE_EXCEEDED; anything else is a bug,
logged with its traceback and answered INTERNAL without internals in the message.
"""

from __future__ import annotations

import logging
from concurrent.futures import TimeoutError as FutureTimeout
from typing import NoReturn

import grpc

from kdproto.tensors import TensorError
from s2s.teacher.answers import TeacherAnswerError
from s2s.teacher.contract import (
    TeacherInputError,
    TeacherLimitError,
    TeacherOverloadedError,
    TeacherUnavailableError,
)

log = logging.getLogger(__name__)
_CODES: dict[type[Exception], grpc.StatusCode] = {
    TeacherInputError: grpc.StatusCode.INVALID_ARGUMENT,
    TeacherLimitError: grpc.StatusCode.RESOURCE_EXHAUSTED,
    TeacherOverloadedError: grpc.StatusCode.RESOURCE_EXHAUSTED,
    TeacherUnavailableError: grpc.StatusCode.UNAVAILABLE,
    TeacherAnswerError: grpc.StatusCode.INTERNAL,
}


def status_for(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """The status code and message a failed request answers with."""
    for kind, code in _CODES.items():
        if isinstance(exc, kind):
            return code, str(exc)
    if isinstance(exc, TensorError):
        return grpc.StatusCode.INVALID_ARGUMENT, str(exc)
    if isinstance(exc, FutureTimeout | TimeoutError):
        return grpc.StatusCode.DEADLINE_EXCEEDED, "the teacher did not finish before the request's deadline"
    return grpc.StatusCode.INTERNAL, f"internal teacher error ({type(exc).__name__}); details are in the server log"


RETRY_AFTER_KEY = "retry-after-ms"


def abort(context: grpc.ServicerContext, exc: BaseException, op: str) -> NoReturn:
    """End the RPC with the status for `exc` (logging unexpected errors with their traceback); an overload
    carries its retry hint in the trailing metadata (`retry-after-ms`)."""
    code, message = status_for(exc)
    if isinstance(exc, TeacherOverloadedError):
        context.set_trailing_metadata(((RETRY_AFTER_KEY, str(max(1, round(1000 * exc.retry_after_s)))),))
    if code == grpc.StatusCode.INTERNAL:
        log.error("%s failed unexpectedly", op, exc_info=exc)
    else:
        log.debug("%s refused: %s %s", op, code.name, message)
    context.abort(code, message)
    raise AssertionError("unreachable: context.abort raises")  # pragma: no cover
