"""One error type for the whole server, carrying the gRPC code TF Serving would answer with.

REST answers with the HTTP status TF Serving maps each code to (model_servers/http_server.cc),
so a client sees the same code whichever protocol it speaks.
"""

from __future__ import annotations

import grpc

_HTTP = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
    grpc.StatusCode.UNAUTHENTICATED: 401,
}


class ServingError(Exception):
    """An error answered to the client: `code` is a grpc.StatusCode, `message` the text."""

    def __init__(self, code: grpc.StatusCode, message: str, http_status: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        # Only where HTTP has a more precise code than the gRPC mapping (413 for a big body).
        self._http_status = http_status

    @property
    def http_status(self) -> int:
        return self._http_status or _HTTP.get(self.code, 500)

    def __str__(self) -> str:
        # TF's Status::ToString form, used when one error is nested in another's message.
        return f"{self.code.name}: {self.message}"


def invalid(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.INVALID_ARGUMENT, message)


def not_found(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.NOT_FOUND, message)


def from_tf_error(error) -> ServingError:
    """Maps a tf.errors.OpError (e.g. a failed image decode) to the same canonical code."""
    # OpError.error_code uses the same canonical numbering as gRPC status codes.
    number = getattr(error, "error_code", None)
    code = next((c for c in grpc.StatusCode if c.value[0] == number), grpc.StatusCode.UNKNOWN)
    message = getattr(error, "message", None) or str(error)
    # Eager execution wraps the op's message in a "Graph execution error" preamble.
    skip = ("Graph execution error", "Detected at node", "<stack traces unavailable>")
    lines = [line for line in message.splitlines() if line.strip() and not line.startswith(skip)]
    return ServingError(code, "\n".join(lines) or message)
