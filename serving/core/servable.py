"""One loaded model version: its SavedModel signatures, ready to run on numpy inputs."""

from __future__ import annotations

import os

import grpc
import numpy as np

from .status import ServingError, from_tf_error, invalid

DEFAULT_SIGNATURE = "serving_default"


class Servable:
    """A loaded SavedModel version. Thread-safe: signature functions may run concurrently."""

    def __init__(self, name: str, version: int, path: str):
        import tensorflow as tf
        from tensorflow.core.protobuf import saved_model_pb2

        self.name, self.version, self.path = name, version, path
        # tf.saved_model.load reads a graph and variables only: no Python objects are
        # unpickled, so a SavedModel from an untrusted source cannot run Python code here.
        self._loaded = tf.saved_model.load(path)
        self.functions = dict(self._loaded.signatures)
        proto = saved_model_pb2.SavedModel()
        with open(os.path.join(path, "saved_model.pb"), "rb") as f:
            proto.ParseFromString(f.read())
        # The SignatureDef protos as saved: what GetModelMetadata returns, tensor names and all.
        self.signature_defs = dict(proto.meta_graphs[0].signature_def)

    def signature(self, signature_name: str, *, grpc_predict: bool = False):
        """The SignatureDef for a name ("" means serving_default). When absent TF Serving answers
        INVALID_ARGUMENT over REST (http_rest_api_handler.cc) but FAILED_PRECONDITION from
        gRPC Predict (predict_util.cc), each in its own words."""
        name = signature_name or DEFAULT_SIGNATURE
        if name not in self.signature_defs or name not in self.functions:
            if grpc_predict:
                raise ServingError(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f'Serving signature key "{name}" not found.',
                )
            raise invalid(f'Serving signature name: "{name}" not found in signature def')
        return self.signature_defs[name]

    def input_infos(self, signature_name: str) -> dict:
        return dict(self.signature(signature_name).inputs)

    def check_inputs(self, signature_name: str, inputs) -> None:
        """TF Serving's checks that the request names exactly the signature's inputs, in its
        order and words (predict_util.cc, then tensorflow/cc/saved_model/util.cc)."""
        signature = self.signature(signature_name)
        expected, given = set(signature.inputs), set(inputs)
        defaults = set(getattr(signature, "defaults", ()))
        if len(given) > len(expected) or (len(given) < len(expected) and not defaults):
            raise invalid(
                f"input size does not match signature: {len(given)}!={len(expected)} "
                f"len({{{_join(given)}}}) != len({{{_join(expected)}}}). Sent extra: "
                f"{{{_join(given - expected)}}}. Missing but required: "
                f"{{{_join(expected - given)}}}."
            )
        for alias in sorted(expected - given - defaults):
            raise invalid(
                f"Signature input alias: {alias}(feed name: {signature.inputs[alias].name}) not "
                f"found in request and no default value provided. Inputs expected to be in the "
                f"request {{{_join(given)}}}, or default input alias set: {_join(defaults)}"
            )
        if given - expected:
            raise invalid(
                f"Inputs contains invalid name. Used request inputs: {_join(given & expected)}, "
                f"request input: {_join(given)}"
            )

    def run(self, signature_name: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Runs one signature on numpy inputs; errors come back as ServingError."""
        import tensorflow as tf

        signature = self.signature(signature_name)
        self.check_inputs(signature_name, inputs)
        tensors = {}
        for alias, value in inputs.items():
            dtype = tf.dtypes.as_dtype(signature.inputs[alias].dtype)
            try:
                tensors[alias] = tf.convert_to_tensor(value, dtype=dtype)
            except (TypeError, ValueError, OverflowError, tf.errors.OpError) as e:
                raise invalid(
                    f"Expects arg[{alias}] to be {dtype.name}: {_first_line(e)}"
                ) from None
            expected = tf.TensorShape(signature.inputs[alias].tensor_shape)
            if not expected.is_compatible_with(tensors[alias].shape):
                # Checked here because a loaded signature function would silently accept
                # e.g. 1x1 images and answer nonsense.
                raise invalid(
                    f"Input {alias} has shape {tensors[alias].shape.as_list()}, which is not "
                    f"compatible with the signature's shape {[-1 if d is None else d for d in expected]}"
                )
        fn = self.functions[signature_name or DEFAULT_SIGNATURE]
        try:
            outputs = fn(**tensors)
        except tf.errors.OpError as e:
            raise from_tf_error(e) from None
        except (TypeError, ValueError) as e:
            # A shape the signature does not accept, e.g. images of the wrong size.
            raise invalid(_first_line(e)) from None
        return {key: value.numpy() for key, value in outputs.items()}

    def warm_up(self) -> int:
        """Replays assets.extra/tf_serving_warmup_requests like TF Serving; returns the count."""
        import tensorflow as tf
        from tensorflow_serving.apis import prediction_log_pb2

        path = os.path.join(self.path, "assets.extra", "tf_serving_warmup_requests")
        if not os.path.exists(path):
            return 0
        count = 0
        for record in tf.data.TFRecordDataset(path):
            log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
            if log.WhichOneof("log_type") != "predict_log":
                continue  # classify/regress warm-ups: those APIs are not served here
            request = log.predict_log.request
            inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
            try:
                self.run(request.model_spec.signature_name, inputs)
            except ServingError as e:
                raise RuntimeError(f"Warm-up request {count} failed: {e}") from None
            count += 1
        return count


def _join(names) -> str:
    return ",".join(sorted(names))


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
