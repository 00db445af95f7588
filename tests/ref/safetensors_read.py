"""Minimal safetensors reader for the reference scripts (F32 only).

Reads the format from its specification (8-byte little-endian header length,
JSON header, raw little-endian data), not from intentd's C code.
"""
import json
import struct

import numpy as np


def read_safetensors(path):
    """Return (metadata dict, {name: float32 array}) for the file at path."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    tensors = {}
    for name, info in header.items():
        if info["dtype"] != "F32":
            raise ValueError(f"tensor {name} has dtype {info['dtype']}, expected F32")
        begin, end = info["data_offsets"]
        array = np.frombuffer(data[base + begin:base + end], dtype="<f4")
        tensors[name] = array.reshape(info["shape"]).copy()
    return meta, tensors


def read_case(directory):
    """Return (metadata, tensors, inputs) of a test case directory written by the C tests."""
    meta, tensors = read_safetensors(f"{directory}/model.safetensors")
    with open(f"{directory}/inputs.json", encoding="utf-8") as f:
        inputs = json.load(f)
    return meta, tensors, inputs


def write_f32(directory, name, array):
    """Write array as raw little-endian float32 to directory/name.f32."""
    np.ascontiguousarray(array, dtype="<f4").tofile(f"{directory}/{name}.f32")
