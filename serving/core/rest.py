"""REST front end on aiohttp, with TF Serving's routes, JSON shapes, errors and status codes.

    POST /v1/models/{name}[/versions/{v} | /labels/{l}]:predict
    GET  /v1/models/{name}[/versions/{v} | /labels/{l}]            model status
    GET  /v1/models/{name}[/versions/{v} | /labels/{l}]/metadata   signature defs
    GET  /monitoring/prometheus/metrics                            Prometheus text format

Paths under /v1/ that match none of these answer 400 "Malformed request", as TF Serving does.
Limits: a body over --max_request_bytes answers 413, more than --max_concurrent_requests in
flight 429, and a predict slower than --rest_api_timeout_in_ms 504, all with `{"error": ...}`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from urllib.parse import unquote

import aiohttp
import grpc
from aiohttp import http_exceptions, web
from google.protobuf import json_format
from tensorflow_serving.apis import get_model_metadata_pb2, model_pb2

from . import json_tensor
from .limits import DEADLINE_MESSAGE, Admission
from .model_queries import model_metadata, model_status
from .status import ServingError, invalid

# [0-9], not \d: Python's \d also matches non-ASCII digits, which TF's RE2 pattern does not.
_VERSION = r"(?:(?:/versions/([0-9]+))|(?:/labels/([^/:]+)))?"
_INT64_MAX = (1 << 63) - 1
PREDICT_RE = re.compile(r"/v1/models/([^/:]+)" + _VERSION + r":(classify|regress|predict)", re.I)
STATUS_RE = re.compile(r"/v1/models(?:/([^/:]+))?" + _VERSION + r"(?:/(metadata))?", re.I)


def _drop_client_protocol_errors(record: logging.LogRecord) -> bool:
    """aiohttp logs a traceback for every malformed HTTP message; those are the client's
    mistakes (answered 400), and a flood of them must not flood the server's log too."""
    error = record.exc_info[1] if record.exc_info else None
    return not isinstance(error, (http_exceptions.HttpProcessingError, web.RequestPayloadError))


logging.getLogger("aiohttp.server").addFilter(_drop_client_protocol_errors)
logger = logging.getLogger(__name__)


async def _expect(request: web.Request) -> None:
    """aiohttp's default Expect handling, except that it echoes an unknown value with ascii():
    the default echoes it raw and answers 500 when the value is not valid UTF-8."""
    expect = request.headers.get("Expect", "")
    if request.version != aiohttp.HttpVersion11:
        return
    if expect.lower() != "100-continue":
        raise web.HTTPExpectationFailed(text=f"Unknown Expect: {ascii(expect)}")
    await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    request.writer.output_size = 0  # the main response has not started yet


async def _not_found(request: web.Request) -> web.Response:
    # A route of our own (rather than aiohttp's fallback) so that _expect covers every path.
    raise web.HTTPNotFound()


def _json(body: str, status: int = 200) -> web.Response:
    return web.Response(text=body, status=status, content_type="application/json")


def _error(e: ServingError) -> web.Response:
    return _json(json.dumps({"error": e.message}), e.http_status)


def _to_json(message) -> str:
    return json_format.MessageToJson(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


class RestApi:
    def __init__(
        self,
        predictor,
        metrics,
        *,
        max_request_bytes: int,
        metrics_path: str | None,
        admission: Admission | None = None,
        timeout_seconds: float | None = None,
    ):
        self.predictor = predictor
        self.manager = predictor.manager
        self.metrics = metrics
        self.max_request_bytes = max_request_bytes
        self.admission = admission or Admission(0)
        self.timeout_seconds = timeout_seconds or None
        self.app = web.Application(client_max_size=max_request_bytes)
        route = self.app.router.add_route
        if metrics_path:
            route("GET", metrics_path, self.prometheus, expect_handler=_expect)
        route("*", "/v1/{tail:.*}", self.dispatch, expect_handler=_expect)
        route("*", "/V1/{tail:.*}", self.dispatch, expect_handler=_expect)  # TF's regex is (?i)
        route("*", "/{tail:.*}", _not_found, expect_handler=_expect)

    async def prometheus(self, request: web.Request) -> web.Response:
        body = self.metrics.render(self.manager.available())
        return web.Response(body=body, content_type="text/plain", charset="utf-8")

    async def dispatch(self, request: web.Request) -> web.Response:
        path = request.rel_url.raw_path
        try:
            with self.admission.slot():
                if request.method == "POST" and (m := PREDICT_RE.fullmatch(path)):
                    return await self.predict(request, m)
                if request.method == "GET" and (m := STATUS_RE.fullmatch(path)):
                    return await self.status(m)
                raise invalid(f"Malformed request: {request.method} {path}")
        except ServingError as e:
            return _error(e)
        except Exception as e:  # noqa: BLE001 - a bug must still answer JSON, not a traceback
            # Client mistakes are ServingErrors; anything else is a server fault worth a log.
            logger.exception("Internal error on %s %s", request.method, path)
            return _error(ServingError(grpc.StatusCode.INTERNAL, f"{type(e).__name__}: {e}"))

    @staticmethod
    def _spec(m) -> tuple[str, int | None, str | None]:
        name, version, label = m.group(1), m.group(2), m.group(3)
        # Length first: int() of a 5,000-digit string is refused (and slow) in Python.
        if version and (len(version.lstrip("0")) > 19 or int(version) > _INT64_MAX):
            raise invalid(f"Failed to convert version: {version[:64]} to numeric.")
        return (
            unquote(name or ""),
            int(version) if version else None,
            unquote(label) if label else None,
        )

    async def _body(self, request: web.Request) -> bytes:
        too_large = ServingError(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            f"Request body is larger than the {self.max_request_bytes}-byte limit "
            "(--max_request_bytes)",
            http_status=413,
        )
        # Refuse a declared oversize body before reading a byte of it.
        if (request.content_length or 0) > self.max_request_bytes:
            raise too_large
        try:
            return await request.read()
        except web.HTTPRequestEntityTooLarge:  # chunked or compressed bodies that grow past it
            raise too_large from None
        except web.RequestPayloadError as e:  # e.g. a gzip body that does not decompress
            reason = " ".join(str(e).split())
            raise invalid(f"Cannot read the request body: {reason}") from None

    async def predict(self, request: web.Request, m) -> web.Response:
        name, version, label = self._spec(m)
        method = m.group(4).lower()
        with self.metrics.track(name, method, "REST"):
            try:
                # The deadline covers reading the body too: a slow upload cannot hold a slot.
                text = await asyncio.wait_for(
                    self._predict(request, method, name, version, label), self.timeout_seconds
                )
            except asyncio.TimeoutError:
                raise ServingError(grpc.StatusCode.DEADLINE_EXCEEDED, DEADLINE_MESSAGE) from None
        return _json(text)

    async def _predict(self, request: web.Request, method: str, name: str, version, label) -> str:
        body = await self._body(request)
        if method != "predict":
            raise ServingError(
                grpc.StatusCode.UNIMPLEMENTED, f"{method} is not served; use :predict."
            )
        loop = asyncio.get_running_loop()
        # JSON <-> tensor conversion is CPU work: keep it off the event loop.
        servable, signature, inputs, fmt = await loop.run_in_executor(
            None, self._prepare, body, name, version, label
        )
        # Cancelling the wrapper on timeout cancels the request if it has not started yet.
        outputs = await asyncio.wrap_future(self.predictor.submit(servable, signature, inputs))
        return await loop.run_in_executor(None, json_tensor.response_body, outputs, fmt)

    def _prepare(self, body: bytes, name: str, version, label):
        # Same order as TF Serving: parse the JSON, then find the model and signature.
        doc = json_tensor.parse_request(body)
        servable = self.manager.get(name, version, label)
        signature = doc.get("signature_name", "")
        infos = servable.input_infos(signature)
        inputs, fmt = json_tensor.request_inputs(doc, infos)
        return servable, signature, inputs, fmt

    async def status(self, m) -> web.Response:
        name, version, label = self._spec(m)
        metadata = bool(m.group(4))
        if not name:
            raise invalid("Missing model name in request.")
        spec = model_pb2.ModelSpec(name=name)
        if version is not None:
            spec.version.value = version
        elif label:
            spec.version_label = label
        with self.metrics.track(name, "metadata" if metadata else "status", "REST"):
            if metadata:
                response = model_metadata(self.manager, spec, ["signature_def"])
                return _json(_metadata_json(response))
            return _json(_to_json(model_status(self.manager, spec)))


def _metadata_json(response) -> str:
    """TF Serving's layout: {"model_spec": ..., "metadata": {"signature_def": <SignatureDefMap>}}."""
    signatures = get_model_metadata_pb2.SignatureDefMap()
    response.metadata["signature_def"].Unpack(signatures)
    return (
        '{\n"model_spec":'
        + _to_json(response.model_spec)
        + ',\n"metadata": {"signature_def": '
        + _to_json(signatures)
        + "}\n}\n"
    )
