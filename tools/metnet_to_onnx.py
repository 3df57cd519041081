#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Write a metnet JSON weights file as an ONNX graph that includes its preprocessing.

The graph has one input per event column of the facade (MetNet::event_columns():
the schema inputs, then the reference MET components if they are not inputs),
each of shape [events, 1] in GeV, and one output "met" of shape [events, 2]:
the MET x and y in the detector frame, in GeV. Inside it rotates every _EX/_EY
input pair into the frame of the reference MET (cos and sin are computed as
x / |ref| and y / |ref|, with no rotation below 1e-9 GeV), standardises,
runs the MLP (Gemm, activation, LayerNormalization, opset 17), undoes the
target standardisation and rotates back. The full metnet document, without
the weights, is stored in the model's metadata under "metnet.document" so
that tools/onnx_to_metnet.py restores the exact float64 statistics.

Run with Debian's /usr/bin/python3 (python3-onnx, numpy).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Optional

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
ZERO_REFERENCE_THRESHOLD = 1e-9  # GeV, as metnet's rotation.hpp


def vector_pairs(names: list[str]) -> list[tuple[int, int]]:
    """Return the (x, y) positions of every _EX/_EY pair, as metnet's find_vector_pairs."""
    pairs = []
    for i, name in enumerate(names):
        if name.endswith("_EX"):
            partner = name[:-3] + "_EY"
            if partner not in names:
                raise SystemExit(f"column '{name}' has no partner column '{partner}'")
            pairs.append((i, names.index(partner)))
    return pairs


def event_columns(document: dict) -> list[str]:
    """Return the columns that MetNet::predict_event reads, in order."""
    features = document["features"]
    columns = list(features["inputs"])
    if features["rotate"]:
        for name in (features["reference"] + "_EX", features["reference"] + "_EY"):
            if name not in columns:
                columns.append(name)
    return columns


class Builder:
    """Collects nodes and initializers with unique names."""

    def __init__(self) -> None:
        """Start an empty graph."""
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.count = 0

    def constant(self, name: str, values: object, dtype: type = np.float32) -> str:
        """Add an initializer and return its name."""
        self.initializers.append(numpy_helper.from_array(np.asarray(values, dtype=dtype), name))
        return name

    def node(self, op: str, inputs: list[str], output: Optional[str] = None, **attributes: object) -> str:
        """Add a node and return the name of its output."""
        self.count += 1
        name = output or f"{op.lower()}_{self.count}"
        self.nodes.append(helper.make_node(op, inputs, [name], name=f"{op}_{self.count}", **attributes))
        return name


def add_rotation(builder: Builder, reference_x: str, reference_y: str) -> tuple[str, str]:
    """Add cos and sin of the reference angle, computed without atan2 (ONNX has none)."""
    squared = builder.node("Add", [builder.node("Mul", [reference_x, reference_x]),
                                   builder.node("Mul", [reference_y, reference_y])])
    length = builder.node("Sqrt", [squared])
    is_zero = builder.node("Less", [length, builder.constant("zero_reference_threshold", ZERO_REFERENCE_THRESHOLD)])
    one = builder.constant("one", 1.0)
    zero = builder.constant("zero", 0.0)
    safe = builder.node("Where", [is_zero, one, length])
    cos = builder.node("Where", [is_zero, one, builder.node("Div", [reference_x, safe])], "cos_phi")
    sin = builder.node("Where", [is_zero, zero, builder.node("Div", [reference_y, safe])], "sin_phi")
    return cos, sin


def add_network(builder: Builder, document: dict, tensor: str) -> str:
    """Add the MLP: Gemm (transB=1), activation and LayerNormalization per hidden layer, then the head."""
    network = document["network"]
    layers = document["layers"]
    for i, layer in enumerate(layers):
        weight = builder.constant(f"layers.{i}.weight", layer["weight"])
        bias = builder.constant(f"layers.{i}.bias", layer["bias"])
        tensor = builder.node("Gemm", [tensor, weight, bias], transB=1)
        if i + 1 == len(layers):
            break
        activation = network["activation"]
        if activation == "relu":
            tensor = builder.node("Relu", [tensor])
        elif activation == "tanh":
            tensor = builder.node("Tanh", [tensor])
        elif activation == "silu":
            tensor = builder.node("Mul", [tensor, builder.node("Sigmoid", [tensor])])
        if network["layer_norm"]:
            norm = document["layer_norms"][i]
            tensor = builder.node("LayerNormalization", [tensor, builder.constant(f"layer_norms.{i}.gamma", norm["gamma"]),
                                                         builder.constant(f"layer_norms.{i}.beta", norm["beta"])],
                                  axis=-1, epsilon=float(network["layer_norm_eps"]))
    return tensor


def scale(values: list[float]) -> np.ndarray:
    """Return metnet's divisor: the standard deviation, or 1 for a constant column."""
    std = np.asarray(values, dtype=np.float64)
    return np.where(std > 0, std, 1.0)


def to_onnx(document: dict) -> onnx.ModelProto:
    """Build the ONNX model of a metnet document (a parsed weights file)."""
    features = document["features"]
    inputs = features["inputs"]
    targets = features["targets"]
    if document["network"]["outputs"] != 2:
        raise SystemExit(f"the network has {document['network']['outputs']} outputs; the exporter supports "
                         "(px, py) networks, not the Gaussian NLL head")
    if features.get("residual", False):
        # TODO: add the reference MET back to the output for residual models.
        raise SystemExit("the model regresses residual targets (true MET minus the reference MET), which the "
                         "exporter does not support yet; export a model trained without --residual")
    columns = event_columns(document)
    builder = Builder()
    values = list(columns)  # tensor name of each schema input after rotation

    cos = sin = ""
    if features["rotate"]:
        cos, sin = add_rotation(builder, features["reference"] + "_EX", features["reference"] + "_EY")
        for px, py in vector_pairs(inputs):
            x, y = inputs[px], inputs[py]
            values[px] = builder.node("Add", [builder.node("Mul", [x, cos]), builder.node("Mul", [y, sin])],
                                      f"{x}_rotated")
            values[py] = builder.node("Sub", [builder.node("Mul", [y, cos]), builder.node("Mul", [x, sin])],
                                      f"{y}_rotated")
    stacked = builder.node("Concat", values[:len(inputs)], "network_inputs", axis=1)
    scaling = document["standardisation"]
    centred = builder.node("Sub", [stacked, builder.constant("input_mean", scaling["inputs"]["mean"])])
    standardised = builder.node("Div", [centred, builder.constant("input_scale", scale(scaling["inputs"]["std"]))])
    raw = add_network(builder, document, standardised)

    scaled = builder.node("Mul", [raw, builder.constant("target_scale", scale(scaling["targets"]["std"]))])
    physical = builder.node("Add", [scaled, builder.constant("target_mean", scaling["targets"]["mean"])],
                            None if features["rotate"] else "met")
    if features["rotate"]:
        target_x, target_y = vector_pairs(targets)[0]
        par = builder.node("Gather", [physical, builder.constant("target_x", [target_x], np.int64)], axis=1)
        perp = builder.node("Gather", [physical, builder.constant("target_y", [target_y], np.int64)], axis=1)
        met_x = builder.node("Sub", [builder.node("Mul", [par, cos]), builder.node("Mul", [perp, sin])])
        met_y = builder.node("Add", [builder.node("Mul", [par, sin]), builder.node("Mul", [perp, cos])])
        builder.node("Concat", [met_x, met_y], "met", axis=1)

    graph = helper.make_graph(
        builder.nodes, "metnet",
        [helper.make_tensor_value_info(c, TensorProto.FLOAT, ["events", 1]) for c in columns],
        [helper.make_tensor_value_info("met", TensorProto.FLOAT, ["events", 2])],
        builder.initializers)
    model = helper.make_model(graph, producer_name="metnet_to_onnx.py",
                              opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8  # the IR version that onnx 1.12 writes for opset 17
    header = {k: v for k, v in document.items() if k not in ("layers", "layer_norms")}
    helper.set_model_props(model, {"metnet.document": json.dumps(header)})
    return model


def main(argv: Optional[list[str]] = None) -> int:
    """Convert the file named on the command line; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("weights", type=Path, help="metnet JSON weights file")
    parser.add_argument("-o", "--output", type=Path, required=True, help="ONNX file to write")
    arguments = parser.parse_args(argv)
    document = json.loads(arguments.weights.read_text())
    if document.get("format") != "metnet-weights":
        print(f"metnet_to_onnx: {arguments.weights}: not a metnet weights file (format is "
              f"{document.get('format')!r})", file=sys.stderr)
        return 2
    model = to_onnx(document)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(arguments.output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
