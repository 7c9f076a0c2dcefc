"""TF Serving's REST JSON <-> tensor rules (after tensorflow_serving/util/json_tensor.cc).

Requests hold either row-format `instances` (one entry per example, objects when a signature has
several inputs) or columnar `inputs`, plus an optional `signature_name`. Binary strings travel as
`{"b64": "..."}`. Responses mirror the request: `predictions` for rows, `outputs` for columns.
Error messages follow TF Serving's wording so that clients matching on them keep working.
"""

from __future__ import annotations

import base64
import binascii
import json

import numpy as np

from .json_parse import MAX_RANK, dump, format_error, json_type, parse_request
from .status import ServingError, invalid

__all__ = ["MAX_RANK", "dump", "parse_request", "request_inputs", "response_body", "to_array"]

_TF_STRING, _TF_BOOL = 7, 10  # DataType enum values
_FLOATS = {1: np.float32, 2: np.float64, 19: np.float16}
_INTS = {
    3: np.int32,
    4: np.uint8,
    5: np.int16,
    6: np.int8,
    9: np.int64,
    22: np.uint32,
    23: np.uint64,
}
_NAMES = {1: "float", 2: "double", 3: "int32", 4: "uint8", 5: "int16", 6: "int8", 7: "string"}
_NAMES.update({9: "int64", 10: "bool", 19: "half", 22: "uint32", 23: "uint64"})


def _is_b64(v) -> bool:
    return isinstance(v, dict) and len(v) == 1 and isinstance(v.get("b64"), str)


def _scalar(v, dtype: int):
    """One JSON leaf as a numpy-ready Python value, with TF Serving's type checks."""
    if isinstance(v, dict):
        if dtype != _TF_STRING:
            raise _type_error(v, dtype)
        if not _is_b64(v):
            raise invalid(f"JSON Value: {dump(v)} not formatted correctly for base64 data")
        try:
            return base64.b64decode(v["b64"], validate=True)
        except (binascii.Error, ValueError):
            raise invalid("Unable to base64 decode") from None
    ok = {
        _TF_STRING: isinstance(v, str),
        _TF_BOOL: isinstance(v, bool),
    }.get(dtype)
    if ok is None:  # numeric
        is_num = isinstance(v, (int, float)) and not isinstance(v, bool)
        ok = is_num and (dtype in _FLOATS or isinstance(v, int))
    if not ok:
        raise _type_error(v, dtype)
    if dtype == _TF_STRING:
        try:
            return v.encode()
        except UnicodeEncodeError:  # a lone "\\ud800" escape: valid JSON, invalid Unicode
            raise invalid("JSON Parse error: The surrogate pair in string is invalid.") from None
    if dtype in _INTS:
        info = np.iinfo(_INTS[dtype])
        if not info.min <= v <= info.max:
            raise _type_error(v, dtype)
    return v


def _type_error(v, dtype: int) -> ServingError:
    return invalid(
        f"JSON Value: {dump(v)} Type: {json_type(v)} is not of expected type: "
        f"{_NAMES.get(dtype, dtype)}"
    )


def _dense_shape(v) -> list[int]:
    shape = []
    while isinstance(v, list):
        shape.append(len(v))
        v = v[0] if v else None
    return shape


def _fill(v, level: int, shape: list[int], dtype: int, out: list) -> None:
    rank = len(shape)
    if not isinstance(v, list):
        if level != rank:
            raise invalid(
                f"JSON Value: {dump(v)} found at incorrect level: {level + 1} in the JSON DOM. "
                f"Expected at level: {rank}"
            )
        out.append(_scalar(v, dtype))
        return
    if level >= rank:
        raise invalid(f"Encountered list at unexpected level: {level} expected < {rank}")
    if len(v) != shape[level]:
        raise invalid(
            f"Encountered list at unexpected size: {len(v)} at level: {level} "
            f"expected size: {shape[level]}"
        )
    for item in v:
        _fill(item, level + 1, shape, dtype, out)


def to_array(v, dtype: int) -> np.ndarray:
    """A JSON value as a dense numpy array of the TensorInfo dtype."""
    if dtype in _FLOATS and isinstance(v, list):
        # Fast path for big pixel arrays; anything irregular takes the checked path below
        # so that the error says exactly what is wrong.
        try:
            arr = np.asarray(v)
        except ValueError:
            arr = None
        if arr is not None and arr.dtype.kind in "iuf":
            return arr.astype(_FLOATS[dtype])
    shape = _dense_shape(v)
    if len(shape) > MAX_RANK:
        raise invalid(
            f"JSON Value nested {len(shape)} lists deep: tensors have at most {MAX_RANK} dimensions"
        )
    values: list = []
    _fill(v, 0, shape, dtype, values)
    np_dtype = _FLOATS.get(dtype) or _INTS.get(dtype) or (bool if dtype == _TF_BOOL else object)
    return np.array(values, dtype=np_dtype).reshape(shape)


def request_inputs(doc: dict, infos: dict) -> tuple[dict, str]:
    """(name -> array, "row" | "columnar") from a parsed request and the signature's inputs."""
    has_instances, has_inputs = "instances" in doc, "inputs" in doc
    if has_instances and has_inputs:
        raise format_error(
            doc,
            "Not formatted correctly expecting only one of 'inputs' or 'instances' keys to exist ",
        )
    if has_instances:
        return _from_instances(doc, infos), "row"
    if has_inputs:
        return _from_inputs(doc["inputs"], infos), "columnar"
    raise invalid("Missing 'inputs' or 'instances' key")


def _from_instances(doc: dict, infos: dict) -> dict:
    items = doc["instances"]
    if not isinstance(items, list):
        raise format_error(doc, "Excepting 'instances' to be an list/array")
    if not items:
        raise format_error(doc, "No values in 'instances' array")

    def is_object(v):
        return isinstance(v, dict) and not _is_b64(v)

    objects = is_object(items[0])
    if not objects and len(infos) > 1:
        raise invalid(
            "instances is a plain list, but expecting list of objects as multiple input tensors "
            "required as per tensorinfo_map"
        )
    names = sorted(infos)
    rows: dict[str, list] = {name: [] for name in names}
    for i, item in enumerate(items):
        if objects != is_object(item):
            expected, got = ("object", "list") if objects else ("value/list", "object")
            raise invalid(f"Expecting {expected} but got {got} at item {i} of input list")
        pairs = item.items() if objects else [(names[0], item)]
        for name, value in pairs:
            where = f"Failed to process element: {i}" + (f" key: {name}" if objects else "")
            try:
                if name not in infos:
                    raise invalid(f"JSON object: does not have named input: {name}")
                arr = to_array(value, infos[name].dtype)
                if rows[name] and arr.shape != rows[name][0].shape:
                    first = rows[name][0]
                    if arr.size != first.size:
                        raise invalid(f"Expecting tensor size: {first.size} but got: {arr.size}")
                    raise invalid(
                        f"Expecting shape {_shape(first.shape)} but got: {_shape(arr.shape)}"
                    )
            except ServingError as e:
                raise invalid(f"{where} of 'instances' list. Error: {e}") from None
            rows[name].append(arr)
        if objects and set(item) != set(names):
            raise invalid(
                f"Failed to process element: {i} of 'instances' list. JSON object: {dump(item)} "
                f"keys must be equal to: {','.join(names)}"
            )
    return {name: np.stack(values) for name, values in rows.items()}


def _shape(shape) -> str:
    return "[" + ",".join(str(d) for d in shape) + "]"


def _from_inputs(value, infos: dict) -> dict:
    if not isinstance(value, dict) or _is_b64(value):
        if len(infos) > 1:
            raise invalid(
                "inputs is a plain value/list, but expecting an object as multiple input tensors "
                "required as per tensorinfo_map"
            )
        name = next(iter(infos))
        return {name: to_array(value, infos[name].dtype)}
    inputs = {}
    for name in sorted(infos):
        if name not in value:
            raise invalid(f"Missing named input: {name} in 'inputs' object.")
        inputs[name] = to_array(value[name], infos[name].dtype)
    return inputs


def _jsonable(name: str, arr: np.ndarray):
    """Nested lists for json.dumps: float32 keeps its shortest repr, *_bytes strings go b64."""
    arr = np.asarray(arr)
    if arr.dtype == np.float32 or arr.dtype == np.float16:
        # Through str: 0.1f prints as 0.1, as TF Serving writes it, not 0.10000000149011612.
        return arr.astype(str).astype(np.float64).tolist()
    if arr.dtype == object or arr.dtype.kind == "S":
        if name.endswith("_bytes"):
            enc = np.vectorize(lambda b: {"b64": base64.b64encode(b).decode()}, otypes=[object])
        else:
            enc = np.vectorize(lambda b: b.decode("utf-8", "replace"), otypes=[object])
        return enc(arr).tolist() if arr.size else arr.tolist()
    return arr.tolist()


def response_body(outputs: dict, fmt: str) -> str:
    names = sorted(outputs)
    if fmt == "columnar":
        values = {n: _jsonable(n, outputs[n]) for n in names}
        return json.dumps({"outputs": values if len(names) > 1 else values[names[0]]})
    batch = None
    for n in names:
        if np.ndim(outputs[n]) == 0:
            raise invalid(f"Tensor name: {n} has no shape information ")
        size = np.shape(outputs[n])[0]
        if batch is not None and size != batch:
            raise invalid(
                f"Tensor name: {n} has inconsistent batch size: {size} expecting: {batch}"
            )
        batch = size
    columns = {n: _jsonable(n, outputs[n]) for n in names}
    if len(names) == 1:
        return json.dumps({"predictions": columns[names[0]]})
    rows = [{n: columns[n][i] for n in names} for i in range(batch)]
    return json.dumps({"predictions": rows})
