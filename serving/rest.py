"""REST front end on aiohttp, with TF Serving's routes, JSON shapes, errors and status codes.

    POST /v1/models/{name}[/versions/{v} | /labels/{l}]:predict
    GET  /v1/models/{name}[/versions/{v} | /labels/{l}]            model status
    GET  /v1/models/{name}[/versions/{v} | /labels/{l}]/metadata   signature defs
    GET  /monitoring/prometheus/metrics                            Prometheus text format

Paths under /v1/ that match none of these answer 400 "Malformed request", as TF Serving does.
"""

from __future__ import annotations

import asyncio
import re
from urllib.parse import unquote

import grpc
from aiohttp import web
from google.protobuf import json_format
from tensorflow_serving.apis import get_model_metadata_pb2, model_pb2

from serving import json_tensor
from serving.grpc_service import model_metadata, model_status
from serving.status import ServingError, invalid

_VERSION = r"(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?"
PREDICT_RE = re.compile(r"/v1/models/([^/:]+)" + _VERSION + r":(classify|regress|predict)", re.I)
STATUS_RE = re.compile(r"/v1/models(?:/([^/:]+))?" + _VERSION + r"(?:/(metadata))?", re.I)


def _json(body: str, status: int = 200) -> web.Response:
    return web.Response(text=body, status=status, content_type="application/json")


def _error(e: ServingError) -> web.Response:
    return _json(json_tensor.json.dumps({"error": e.message}), e.http_status)


def _to_json(message) -> str:
    return json_format.MessageToJson(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


class RestApi:
    def __init__(self, predictor, metrics, *, max_request_bytes: int, metrics_path: str | None):
        self.predictor = predictor
        self.manager = predictor.manager
        self.metrics = metrics
        self.max_request_bytes = max_request_bytes
        self.app = web.Application(client_max_size=max_request_bytes)
        if metrics_path:
            self.app.router.add_get(metrics_path, self.prometheus)
        self.app.router.add_route("*", "/v1/{tail:.*}", self.dispatch)
        self.app.router.add_route("*", "/V1/{tail:.*}", self.dispatch)  # TF's regex is (?i)

    async def prometheus(self, request: web.Request) -> web.Response:
        body = self.metrics.render(self.manager.available())
        return web.Response(body=body, content_type="text/plain", charset="utf-8")

    async def dispatch(self, request: web.Request) -> web.Response:
        path = request.rel_url.raw_path
        try:
            if request.method == "POST" and (m := PREDICT_RE.fullmatch(path)):
                return await self.predict(request, m)
            if request.method == "GET" and (m := STATUS_RE.fullmatch(path)):
                return await self.status(m)
            raise invalid(f"Malformed request: {request.method} {path}")
        except ServingError as e:
            return _error(e)
        except Exception as e:  # noqa: BLE001 - a bug must still answer JSON, not a traceback
            return _error(ServingError(grpc.StatusCode.INTERNAL, f"{type(e).__name__}: {e}"))

    @staticmethod
    def _spec(m) -> tuple[str, int | None, str | None]:
        name, version, label = m.group(1), m.group(2), m.group(3)
        return (
            unquote(name or ""),
            int(version) if version else None,
            unquote(label) if label else None,
        )

    async def _body(self, request: web.Request) -> bytes:
        try:
            return await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise ServingError(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"Request body is larger than the {self.max_request_bytes}-byte limit "
                "(--max_request_bytes)",
            ) from None

    async def predict(self, request: web.Request, m) -> web.Response:
        name, version, label = self._spec(m)
        method = m.group(4).lower()
        with self.metrics.track(name, method, "REST"):
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
            future = self.predictor.submit(servable, signature, inputs)
            outputs = await asyncio.wrap_future(future)
            text = await loop.run_in_executor(None, json_tensor.response_body, outputs, fmt)
        return _json(text)

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
