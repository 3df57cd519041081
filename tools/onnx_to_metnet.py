#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Convert an ONNX METNet multi-layer perceptron into a metnet JSON weights file.

The network part is matched node by node: Gemm (any transB, alpha, beta) or
MatMul + Add, Relu, Tanh, SiLU (Sigmoid and Mul), LayerNormalization as one
node (opset 17) or as its opset 11-16 decomposition, Dropout in inference mode
and Identity. The epsilon of layer normalisation is read from the graph as
the stored float32 value.

The pre- and post-processing around the network (an input mask, the rotation
of x/y pairs by the reference MET angle, standardisation and its inverse) is
identified numerically: the converter evaluates those subgraphs with NumPy on
probe events, reads the column selection and the means and scales from the
probes, and then replays random events through the whole graph and through
the converted model. A graph whose processing metnet cannot express fails
that replay and is rejected.

Run with Debian's /usr/bin/python3 (python3-onnx, numpy).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import onnx
from onnx import numpy_helper

ZERO_REFERENCE_THRESHOLD = 1e-9  # GeV, as metnet's rotation.hpp
ANGLE_INPUT_NAMES = ("phi", "angle", "met_phi", "reference_phi")
# Relative and absolute tolerance of the replay that checks the conversion.
CHECK_RTOL = 1e-6
CHECK_ATOL = 1e-6


class ConversionError(Exception):
    """A graph that the converter rejects; the message names the node and the fix."""


# ---------------------------------------------------------------------------
# Graph access


@dataclass
class Graph:
    """An ONNX graph with its constants and the producer and consumers of each tensor."""

    model: onnx.ModelProto
    constants: dict[str, np.ndarray] = field(default_factory=dict)
    producer: dict[str, onnx.NodeProto] = field(default_factory=dict)
    consumers: dict[str, list[onnx.NodeProto]] = field(default_factory=dict)

    @property
    def nodes(self) -> list[onnx.NodeProto]:
        """Return the nodes in the stored (topological) order."""
        return list(self.model.graph.node)


def load_graph(model: onnx.ModelProto) -> Graph:
    """Index a model's constants (initializers and Constant nodes) and edges."""
    graph = Graph(model)
    for init in model.graph.initializer:
        graph.constants[init.name] = numpy_helper.to_array(init)
    for node in model.graph.node:
        for output in node.output:
            graph.producer[output] = node
        for name in node.input:
            if name:
                graph.consumers.setdefault(name, []).append(node)
        if node.op_type == "Constant":
            value = next((a for a in node.attribute if a.name == "value"), None)
            if value is None:
                raise ConversionError(f"node '{node.name}' (Constant) has no 'value' attribute; only tensor "
                                      "constants are supported")
            graph.constants[node.output[0]] = numpy_helper.to_array(value.t)
    return graph


def describe(node: onnx.NodeProto) -> str:
    """Return "node 'name' (OpType)" for messages."""
    return f"node '{node.name or node.output[0]}' ({node.op_type})"


def attribute(node: onnx.NodeProto, name: str, default: object) -> object:
    """Return the value of a node attribute, or `default` when it is absent."""
    for attr in node.attribute:
        if attr.name == name:
            return onnx.helper.get_attribute_value(attr)
    return default


def constant(graph: Graph, name: str, node: onnx.NodeProto, what: str) -> np.ndarray:
    """Return the constant tensor `name`, or raise naming the node that needs it constant."""
    if name not in graph.constants:
        raise ConversionError(f"{describe(node)}: the {what} '{name}' is computed at run time, expected a constant "
                              "initializer; export the model with constant folding (do_constant_folding=True)")
    return graph.constants[name]


# ---------------------------------------------------------------------------
# NumPy evaluation of the supported operators (float64)

SUPPORTED_OPS = {
    "Gemm", "MatMul", "Add", "Sub", "Mul", "Div", "Neg", "Relu", "Tanh", "Sigmoid", "Sin", "Cos", "Sqrt", "Pow",
    "ReduceMean", "LayerNormalization", "Gather", "Concat", "Slice", "Unsqueeze", "Squeeze", "Reshape", "Flatten",
    "Constant", "Identity", "Cast", "Dropout", "Where", "Less", "Max", "Min", "Abs", "BatchNormalization",
}


def _axes(node: onnx.NodeProto, inputs: list[Optional[np.ndarray]], position: int) -> Optional[list[int]]:
    """Return the axes of Squeeze/Unsqueeze/ReduceMean, from the attribute or (opset 13+) an input."""
    axes = attribute(node, "axes", None)
    if axes is None and len(inputs) > position and inputs[position] is not None:
        axes = [int(a) for a in inputs[position]]
    return None if axes is None else list(axes)


def evaluate_node(node: onnx.NodeProto, inputs: list[Optional[np.ndarray]]) -> list[np.ndarray]:
    """Evaluate one node in float64 (integer tensors stay integer); returns its outputs."""
    op = node.op_type
    x = inputs[0] if inputs else None
    if op == "Gemm":
        a = x.T if attribute(node, "transA", 0) else x
        b = inputs[1].T if attribute(node, "transB", 0) else inputs[1]
        y = float(attribute(node, "alpha", 1.0)) * (a @ b)
        if len(inputs) > 2 and inputs[2] is not None:
            y = y + float(attribute(node, "beta", 1.0)) * inputs[2]
        return [y]
    if op == "MatMul":
        return [x @ inputs[1]]
    binary: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
        "Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide, "Pow": np.power,
        "Max": np.maximum, "Min": np.minimum, "Less": np.less}
    if op in binary:
        return [binary[op](x, inputs[1])]
    unary: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "Neg": np.negative, "Relu": lambda v: np.maximum(v, 0.0), "Tanh": np.tanh,
        "Sigmoid": lambda v: 1.0 / (1.0 + np.exp(-v)), "Sin": np.sin, "Cos": np.cos, "Sqrt": np.sqrt,
        "Abs": np.abs, "Identity": lambda v: v}
    if op in unary:
        return [unary[op](x)]
    if op == "Dropout":
        return [x]
    if op == "Cast":
        to = attribute(node, "to", onnx.TensorProto.FLOAT)
        if to in (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16):
            return [np.asarray(x, dtype=np.float64)]
        if to == onnx.TensorProto.BOOL:
            return [np.asarray(x, dtype=bool)]
        return [np.asarray(x, dtype=np.int64)]
    if op == "Where":
        return [np.where(x, inputs[1], inputs[2])]
    if op == "ReduceMean":
        axes = _axes(node, inputs, 1)
        keep = bool(attribute(node, "keepdims", 1))
        return [np.mean(x, axis=None if axes is None else tuple(axes), keepdims=keep)]
    if op == "LayerNormalization":
        axis = int(attribute(node, "axis", -1))
        eps = float(np.float32(attribute(node, "epsilon", 1e-5)))
        axes = tuple(range(axis % x.ndim, x.ndim))
        mean = x.mean(axis=axes, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
        y = (x - mean) / np.sqrt(var + eps) * inputs[1]
        return [y + inputs[2] if len(inputs) > 2 and inputs[2] is not None else y]
    if op == "BatchNormalization":
        eps = float(np.float32(attribute(node, "epsilon", 1e-5)))
        scale, bias, mean, var = inputs[1:5]
        return [(x - mean) / np.sqrt(var + eps) * scale + bias]
    if op == "Gather":
        return [np.take(x, np.asarray(inputs[1], dtype=np.int64), axis=int(attribute(node, "axis", 0)))]
    if op == "Concat":
        return [np.concatenate([v for v in inputs if v is not None], axis=int(attribute(node, "axis", 0)))]
    if op == "Slice":
        if len(inputs) > 1:
            starts, ends = inputs[1], inputs[2]
            axes = inputs[3] if len(inputs) > 3 and inputs[3] is not None else range(len(starts))
            steps = inputs[4] if len(inputs) > 4 and inputs[4] is not None else [1] * len(starts)
        else:
            starts, ends = attribute(node, "starts", []), attribute(node, "ends", [])
            axes = attribute(node, "axes", list(range(len(starts))))
            steps = [1] * len(starts)
        index = [slice(None)] * x.ndim
        for start, end, axis, step in zip(starts, ends, axes, steps):
            index[int(axis)] = slice(int(start), int(min(end, sys.maxsize)), int(step))
        return [x[tuple(index)]]
    if op == "Unsqueeze":
        y = x
        for axis in sorted(a % (x.ndim + len(_axes(node, inputs, 1))) for a in _axes(node, inputs, 1)):
            y = np.expand_dims(y, axis)
        return [y]
    if op == "Squeeze":
        axes = _axes(node, inputs, 1)
        return [np.squeeze(x) if axes is None else np.squeeze(x, axis=tuple(axes))]
    if op == "Reshape":
        shape = [int(s) for s in inputs[1]]
        shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
        return [x.reshape(shape)]
    if op == "Flatten":
        axis = int(attribute(node, "axis", 1))
        return [x.reshape(int(np.prod(x.shape[:axis])), -1)]
    raise ConversionError(f"{describe(node)}: operator {op} cannot be evaluated")


def evaluate(graph: Graph, feeds: dict[str, np.ndarray], targets: list[str]) -> list[np.ndarray]:
    """Evaluate the tensors `targets` from `feeds`, running only the nodes they depend on."""
    values: dict[str, np.ndarray] = {}
    for name, array in graph.constants.items():
        values[name] = array.astype(np.float64) if np.issubdtype(array.dtype, np.floating) else array
    values.update(feeds)

    def compute(name: str) -> np.ndarray:
        if name in values:
            return values[name]
        node = graph.producer.get(name)
        if node is None:
            raise ConversionError(f"tensor '{name}' has no value: it is neither a graph input, a constant nor a "
                                  "node output")
        inputs = [compute(i) if i else None for i in node.input]
        for output, value in zip(node.output, evaluate_node(node, inputs)):
            values[output] = value
        return values[name]

    return [compute(t) for t in targets]


# ---------------------------------------------------------------------------
# The network: a chain of Linear, activation and LayerNorm blocks


@dataclass
class Linear:
    """One dense layer in torch layout: weight (outputs x inputs) and bias."""

    weight: np.ndarray
    bias: np.ndarray


@dataclass
class Network:
    """The matched MLP: layers in order, its input and output tensors, and its nodes."""

    input: str
    output: str
    linear: list[Linear]
    activations: list[str]  # one per hidden layer
    norms: list[tuple[np.ndarray, np.ndarray]]  # (gamma, beta) per hidden layer, or empty
    eps: Optional[float]
    nodes: set[str]


def only_consumer(graph: Graph, tensor: str) -> Optional[onnx.NodeProto]:
    """Return the single node reading `tensor`, or None if there are none or several."""
    readers = graph.consumers.get(tensor, [])
    return readers[0] if len(readers) == 1 else None


def other_input(node: onnx.NodeProto, tensor: str) -> str:
    """Return the input of a binary node that is not `tensor`."""
    return node.input[1] if node.input[0] == tensor else node.input[0]


def node_key(node: onnx.NodeProto) -> str:
    """Return a stable identifier of a node (its first output)."""
    return node.output[0]


def match_linear(graph: Graph, tensor: str) -> Optional[tuple[Linear, str, list[onnx.NodeProto]]]:
    """Match Gemm or MatMul (+ Add) reading `tensor`; returns the layer, its output and its nodes."""
    node = only_consumer(graph, tensor)
    if node is None or node.input[0] != tensor:
        return None
    if node.op_type == "Gemm":
        if attribute(node, "transA", 0):
            raise ConversionError(f"{describe(node)}: transA=1 transposes the batch; metnet expects events as "
                                  "rows (transA=0)")
        b = constant(graph, node.input[1], node, "weight")
        weight = b if attribute(node, "transB", 0) else b.T  # torch layout: outputs x inputs
        weight = float(attribute(node, "alpha", 1.0)) * weight.astype(np.float64)
        bias = np.zeros(weight.shape[0])
        if len(node.input) > 2 and node.input[2]:
            c = constant(graph, node.input[2], node, "bias")
            bias = float(attribute(node, "beta", 1.0)) * np.broadcast_to(c.astype(np.float64), (weight.shape[0],))
        return Linear(weight, np.array(bias)), node.output[0], [node]
    if node.op_type == "MatMul" and node.input[1] in graph.constants:
        weight = graph.constants[node.input[1]].astype(np.float64)
        if weight.ndim != 2:
            raise ConversionError(f"{describe(node)}: expected a 2-D weight [inputs, outputs], found shape "
                                  f"{list(weight.shape)}")
        weight = weight.T
        add = only_consumer(graph, node.output[0])
        if add is not None and add.op_type == "Add" and other_input(add, node.output[0]) in graph.constants:
            bias = graph.constants[other_input(add, node.output[0])].astype(np.float64)
            if bias.size == weight.shape[0]:
                return Linear(weight, bias.reshape(-1)), add.output[0], [node, add]
        return Linear(weight, np.zeros(weight.shape[0])), node.output[0], [node]
    return None


def match_activation(graph: Graph, tensor: str) -> Optional[tuple[str, str, list[onnx.NodeProto]]]:
    """Match Relu, Tanh or SiLU (Sigmoid and Mul) reading `tensor`."""
    readers = graph.consumers.get(tensor, [])
    if len(readers) == 1 and readers[0].op_type in ("Relu", "Tanh"):
        return readers[0].op_type.lower(), readers[0].output[0], readers
    if len(readers) == 2:
        sigmoid = next((n for n in readers if n.op_type == "Sigmoid"), None)
        mul = next((n for n in readers if n.op_type == "Mul"), None)
        if sigmoid is not None and mul is not None and set(mul.input) == {tensor, sigmoid.output[0]}:
            return "silu", mul.output[0], [sigmoid, mul]
    if len(readers) == 1 and readers[0].op_type == "Sigmoid":
        raise ConversionError(f"{describe(readers[0])}: a sigmoid activation is not a metnet activation "
                              "(identity, relu, silu, tanh); SiLU must be exported as Sigmoid followed by Mul "
                              "with the same input")
    return None


def scalar_constant(graph: Graph, name: str) -> Optional[float]:
    """Return the value of a one-element constant tensor, or None."""
    value = graph.constants.get(name)
    return float(value.reshape(-1)[0]) if value is not None and value.size == 1 else None


def match_layer_norm(graph: Graph, tensor: str) -> Optional[tuple[np.ndarray, np.ndarray, float, str,
                                                                   list[onnx.NodeProto]]]:
    """Match LayerNormalization (one node, or the opset 11-16 decomposition) over the last axis."""
    readers = graph.consumers.get(tensor, [])
    if len(readers) == 1 and readers[0].op_type == "LayerNormalization":
        node = readers[0]
        axis = int(attribute(node, "axis", -1))
        if axis != -1:
            raise ConversionError(f"{describe(node)}: normalises from axis {axis}, expected the last axis (-1)")
        eps = float(np.float32(attribute(node, "epsilon", 1e-5)))
        gamma = constant(graph, node.input[1], node, "scale").astype(np.float64)
        beta = (constant(graph, node.input[2], node, "bias").astype(np.float64)
                if len(node.input) > 2 and node.input[2] else np.zeros_like(gamma))
        return gamma, beta, eps, node.output[0], [node]

    # ReduceMean, Sub, Pow, ReduceMean, Add(eps), Sqrt, Div, Mul(gamma), Add(beta)
    mean = next((n for n in readers if n.op_type == "ReduceMean"), None)
    sub = next((n for n in readers if n.op_type == "Sub"), None)
    if len(readers) != 2 or mean is None or sub is None or list(sub.input) != [tensor, mean.output[0]]:
        return None
    chain = [mean, sub]

    def next_node(source: str, op: str) -> onnx.NodeProto:
        candidates = [n for n in graph.consumers.get(source, []) if n.op_type == op]
        if len(candidates) != 1:
            raise ConversionError(f"{describe(sub)}: looks like a decomposed LayerNorm, but '{source}' is not read "
                                  f"by one {op} node; only the pattern ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, "
                                  "Div, Mul, Add that torch.onnx.export writes for opset 11-16 is supported")
        chain.append(candidates[0])
        return candidates[0]

    power = next_node(sub.output[0], "Pow")
    if scalar_constant(graph, power.input[1]) != 2.0:
        raise ConversionError(f"{describe(power)}: expected exponent 2 in a decomposed LayerNorm")
    variance = next_node(power.output[0], "ReduceMean")
    add_eps = next_node(variance.output[0], "Add")
    eps = scalar_constant(graph, other_input(add_eps, variance.output[0]))
    if eps is None:
        raise ConversionError(f"{describe(add_eps)}: the LayerNorm epsilon is not a constant scalar")
    eps = float(np.float32(eps))  # the stored float32 value, as the single node uses it
    root = next_node(add_eps.output[0], "Sqrt")
    divide = next_node(root.output[0], "Div")
    if list(divide.input) != [sub.output[0], root.output[0]]:
        raise ConversionError(f"{describe(divide)}: expected (x - mean) / sqrt(var + eps) in a decomposed LayerNorm")
    for node in (mean, variance):
        axes = _axes(node, [None] + [graph.constants.get(i) for i in node.input[1:]], 1)
        if axes not in ([-1], None) and not (axes and len(axes) == 1 and axes[0] > 0):
            raise ConversionError(f"{describe(node)}: expected a mean over the last axis, found axes {axes}")
    gamma_node = next_node(divide.output[0], "Mul")
    gamma = constant(graph, other_input(gamma_node, divide.output[0]), gamma_node, "LayerNorm scale")
    beta_node = next_node(gamma_node.output[0], "Add")
    beta = constant(graph, other_input(beta_node, gamma_node.output[0]), beta_node, "LayerNorm bias")
    return (gamma.astype(np.float64).reshape(-1), beta.astype(np.float64).reshape(-1), eps, beta_node.output[0],
            chain)


def skip_passthrough(graph: Graph, tensor: str, nodes: list[onnx.NodeProto]) -> str:
    """Follow Identity and inference-mode Dropout nodes; returns the tensor after them."""
    while True:
        node = only_consumer(graph, tensor)
        if node is None or node.op_type not in ("Identity", "Dropout") or node.input[0] != tensor:
            return tensor
        nodes.append(node)
        tensor = node.output[0]


def find_first_linear(graph: Graph) -> str:
    """Return the data input of the first Gemm or MatMul with a constant weight."""
    for node in graph.nodes:
        if node.op_type in ("Gemm", "MatMul") and node.input[1] in graph.constants:
            return node.input[0]
    raise ConversionError("the graph has no Gemm or MatMul node with a constant weight; it is not an MLP")


def match_network(graph: Graph) -> Network:
    """Match the chain of Linear, activation and LayerNorm blocks from the first dense layer."""
    start = find_first_linear(graph)
    tensor = start
    linear: list[Linear] = []
    activations: list[str] = []
    norms: list[tuple[np.ndarray, np.ndarray]] = []
    eps_values: list[float] = []
    nodes: list[onnx.NodeProto] = []
    order: list[str] = []  # block kinds, to check the layout
    while True:
        tensor = skip_passthrough(graph, tensor, nodes)
        found = match_linear(graph, tensor)
        if found is not None:
            layer, tensor, matched = found
            linear.append(layer)
            nodes += matched
            order.append("linear")
            continue
        if not linear:
            break
        found_activation = match_activation(graph, tensor)
        if found_activation is not None:
            name, tensor, matched = found_activation
            activations.append(name)
            nodes += matched
            order.append("activation")
            continue
        found_norm = match_layer_norm(graph, tensor)
        if found_norm is not None:
            gamma, beta, eps, tensor, matched = found_norm
            norms.append((gamma, beta))
            eps_values.append(eps)
            nodes += matched
            order.append("norm")
            continue
        break
    output = tensor
    hidden = len(linear) - 1
    with_norm = bool(norms)
    expected = []
    for _ in range(hidden):
        expected += ["linear", "activation"] + (["norm"] if with_norm else [])
    expected.append("linear")
    if order != expected:
        raise ConversionError("the blocks " + ", ".join(order) + " do not follow metnet's layout (Linear, activation, "
                              "then LayerNorm if any, per hidden layer, and a Linear output head); a LayerNorm "
                              "before the activation or a layer without activation cannot be expressed")
    if len(set(activations)) > 1:
        raise ConversionError("the hidden layers use different activations (" + ", ".join(activations) + "); metnet "
                              "uses one activation for every hidden layer")
    if len(set(eps_values)) > 1:
        raise ConversionError(f"the LayerNorms use different epsilons {sorted(set(eps_values))}; metnet stores one")
    return Network(start, output, linear, activations, norms, eps_values[0] if eps_values else None,
                   {node_key(n) for n in nodes})


def check_supported(graph: Graph) -> None:
    """Reject unknown operators and training-mode Dropout or BatchNormalization, naming the node."""
    for node in graph.nodes:
        if node.op_type not in SUPPORTED_OPS:
            raise ConversionError(f"{describe(node)}: operator {node.op_type} is not supported; metnet imports "
                                  "plain MLPs (Gemm or MatMul+Add, Relu, Tanh, SiLU, LayerNormalization) with "
                                  "mask, rotation and standardisation around them. Remove the operator from the "
                                  "PyTorch model or export a plain MLP")
        if node.op_type == "Dropout":
            training = node.input[2] if len(node.input) > 2 and node.input[2] else None
            if training is not None and (training not in graph.constants or bool(graph.constants[training])):
                raise ConversionError(f"{describe(node)}: Dropout is in training mode (training_mode input "
                                      f"'{training}' is true or not constant); call model.eval() before "
                                      "torch.onnx.export, or pass training=torch.onnx.TrainingMode.EVAL")
        if node.op_type == "BatchNormalization":
            if attribute(node, "training_mode", 0) or len(node.output) > 1:
                raise ConversionError(f"{describe(node)}: BatchNormalization is in training mode; call model.eval() "
                                      "before torch.onnx.export")
            raise ConversionError(f"{describe(node)}: metnet networks have no batch normalisation; fold it into the "
                                  "weight and bias of the neighbouring Linear layer before export")


# ---------------------------------------------------------------------------
# Graph inputs and event columns


@dataclass
class InputLayout:
    """How the event columns map onto the graph inputs."""

    columns: list[str]  # event columns, in the order of the feature inputs, then missing reference components
    feeds: list[tuple[str, str, list[int]]]  # (graph input, "matrix" | "column" | "angle", event column indices)
    fixed_batch: bool  # the inputs have a batch dimension of exactly 1
    reference: Optional[tuple[int, int]]  # positions of the reference _EX and _EY columns, if present


def input_shape(value: onnx.ValueInfoProto) -> list[object]:
    """Return the dimensions of a graph input: ints, symbolic names or None."""
    dims: list[object] = []
    for dim in value.type.tensor_type.shape.dim:
        dims.append(dim.dim_value if dim.HasField("dim_value") else (dim.dim_param or None))
    return dims


def read_feature_names(path: Path) -> list[str]:
    """Read feature names from a JSON list or a text file with one name per line."""
    text = path.read_text()
    if text.lstrip().startswith("["):
        names = json.loads(text)
    else:
        names = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if not all(isinstance(n, str) for n in names):
        raise ConversionError(f"{path}: expected a list of feature names")
    return names


def layout_inputs(model: onnx.ModelProto, features: Optional[list[str]], angle_input: Optional[str],
                  reference: str) -> InputLayout:
    """Map the graph inputs onto event columns (one matrix input, or one input per column, plus an angle)."""
    initializers = {i.name for i in model.graph.initializer}
    inputs = [v for v in model.graph.input if v.name not in initializers]
    metadata = {p.key: p.value for p in model.metadata_props}
    columns: list[str] = []
    feeds: list[tuple[str, str, list[int]]] = []
    fixed_batch = False
    for value in inputs:
        shape = input_shape(value)
        if len(shape) not in (1, 2):
            raise ConversionError(f"graph input '{value.name}' has shape {shape}; expected [events] or "
                                  "[events, columns]")
        fixed_batch = fixed_batch or shape[0] == 1
        is_angle = value.name == angle_input or (angle_input is None and value.name.lower() in ANGLE_INPUT_NAMES)
        width = shape[1] if len(shape) == 2 else 1
        if is_angle:
            if width != 1:
                raise ConversionError(f"angle input '{value.name}' has {width} columns, expected one per event")
            feeds.append((value.name, "angle", []))
            continue
        if width == 1 and len(inputs) > 1 and features is None:
            feeds.append((value.name, "column", [len(columns)]))
            columns.append(value.name)
            continue
        names = features
        if names is None and "metnet.feature_names" in metadata:
            names = json.loads(metadata["metnet.feature_names"])
        if names is None:
            raise ConversionError(f"graph input '{value.name}' holds {width} columns without names; pass their "
                                  "names with --features FILE (one name per line)")
        if not isinstance(width, int):
            width = len(names)  # a symbolic column count, resolved by the feature list
        if len(names) != width:
            raise ConversionError(f"graph input '{value.name}' has {width} columns, but {len(names)} feature names "
                                  "were given; the --features list must name every column in order")
        feeds.append((value.name, "matrix", list(range(len(columns), len(columns) + width))))
        columns += names
    if len(set(columns)) != len(columns):
        raise ConversionError("the feature names contain duplicates: " +
                              ", ".join(sorted({c for c in columns if columns.count(c) > 1})))
    has_angle = any(kind == "angle" for _, kind, _ in feeds)
    ref_x, ref_y = reference + "_EX", reference + "_EY"
    if has_angle:
        for name in (ref_x, ref_y):
            if name not in columns:
                columns.append(name)
    position = (columns.index(ref_x), columns.index(ref_y)) if ref_x in columns and ref_y in columns else None
    return InputLayout(columns, feeds, fixed_batch, position)


def reference_angles(events: np.ndarray, layout: InputLayout) -> np.ndarray:
    """Return the per-event angle of the reference MET, 0 below metnet's zero threshold."""
    if layout.reference is None:
        return np.zeros(len(events))
    x, y = events[:, layout.reference[0]], events[:, layout.reference[1]]
    return np.where(np.hypot(x, y) < ZERO_REFERENCE_THRESHOLD, 0.0, np.arctan2(y, x))


def graph_feeds(model: onnx.ModelProto, layout: InputLayout, events: np.ndarray) -> dict[str, np.ndarray]:
    """Build the graph's input arrays from events in event-column order (graph units)."""
    shapes = {v.name: input_shape(v) for v in model.graph.input}
    feeds: dict[str, np.ndarray] = {}
    for name, kind, indices in layout.feeds:
        values = reference_angles(events, layout)[:, None] if kind == "angle" else events[:, indices]
        feeds[name] = values.reshape(len(events)) if len(shapes[name]) == 1 else values
    return feeds


def run(graph: Graph, layout: InputLayout, events: np.ndarray, targets: list[str],
        extra: Optional[dict[str, np.ndarray]] = None, leading_ones: int = 0) -> list[np.ndarray]:
    """Evaluate `targets` for events (graph units), one event at a time if the batch size is fixed to 1.

    `extra` feeds intermediate tensors, one row per event; `leading_ones` is the number of size-1 axes
    that the graph puts before the event axis of those tensors (1 for a [1, events, k] MatMul layout).
    """
    rows = [np.arange(i, i + 1) for i in range(len(events))] if layout.fixed_batch else [np.arange(len(events))]
    results: list[list[np.ndarray]] = []
    for chunk in rows:
        feeds = graph_feeds(graph.model, layout, events[chunk])
        for name, values in (extra or {}).items():
            feeds[name] = values[chunk].reshape((1,) * leading_ones + values[chunk].shape)
        results.append([np.asarray(v, dtype=np.float64) for v in evaluate(graph, feeds, targets)])
    return [np.concatenate([r[i].reshape(len(chunk), -1) for r, chunk in zip(results, rows)])
            for i in range(len(targets))]


# ---------------------------------------------------------------------------
# The metnet model in NumPy, for the replay check and the fixture scripts


def energy_column(name: str) -> bool:
    """Tell whether a column is an energy (scaled by 1e-3 from MeV to GeV)."""
    return name.endswith(("_ET", "_EX", "_EY", "_SumET", "_PT", "_Pt")) or "SumET" in name or name == "Sum_JetPU"


def vector_pairs(names: list[str]) -> Optional[list[tuple[int, int]]]:
    """Return (x, y) positions of every _EX/_EY pair, or None if a component lacks its partner."""
    pairs = []
    for i, name in enumerate(names):
        if name.endswith(("_EX", "_EY")):
            partner = name[:-3] + ("_EY" if name.endswith("_EX") else "_EX")
            if partner not in names:
                return None
            if name.endswith("_EX"):
                pairs.append((i, names.index(partner)))
    return pairs


def metnet_forward(document: dict, events: np.ndarray, columns: list[str]) -> np.ndarray:
    """Predict (px, py) in GeV with a metnet JSON document, in float64, as MetNet::predict_event does."""
    features = document["features"]
    inputs = features["inputs"]
    x = events[:, [columns.index(n) for n in inputs]].astype(np.float64)
    angle = np.zeros(len(events))
    if features["rotate"]:
        rx = events[:, columns.index(features["reference"] + "_EX")]
        ry = events[:, columns.index(features["reference"] + "_EY")]
        angle = np.where(np.hypot(rx, ry) < ZERO_REFERENCE_THRESHOLD, 0.0, np.arctan2(ry, rx))
        c, s = np.cos(angle), np.sin(angle)
        for px, py in vector_pairs(inputs) or []:
            x[:, px], x[:, py] = x[:, px] * c + x[:, py] * s, -x[:, px] * s + x[:, py] * c
    scaling = document["standardisation"]
    std = np.array(scaling["inputs"]["std"])
    x = (x - np.array(scaling["inputs"]["mean"])) / np.where(std > 0, std, 1.0)
    network = document["network"]
    h = x
    for i, layer in enumerate(document["layers"]):
        h = h @ np.array(layer["weight"]).T + np.array(layer["bias"])
        if i + 1 == len(document["layers"]):
            break
        activation = network["activation"]
        if activation == "relu":
            h = np.maximum(h, 0.0)
        elif activation == "tanh":
            h = np.tanh(h)
        elif activation == "silu":
            h = h / (1.0 + np.exp(-h))
        if network["layer_norm"]:
            norm = document["layer_norms"][i]
            mean = h.mean(axis=1, keepdims=True)
            var = ((h - mean) ** 2).mean(axis=1, keepdims=True)
            h = (h - mean) / np.sqrt(var + network["layer_norm_eps"]) * np.array(norm["gamma"]) + np.array(norm["beta"])
    tstd = np.array(scaling["targets"]["std"])
    out = h * np.where(tstd > 0, tstd, 1.0) + np.array(scaling["targets"]["mean"])
    c, s = np.cos(angle), np.sin(angle)
    return np.stack([out[:, 0] * c - out[:, 1] * s, out[:, 0] * s + out[:, 1] * c], axis=1)


# ---------------------------------------------------------------------------
# Conversion


@dataclass
class Options:
    """Conversion settings from the command line."""

    features: Optional[list[str]] = None
    units: str = "GeV"
    reference: str = "Tight_Final"
    angle_input: Optional[str] = None
    loss: str = "huber"
    metadata: dict[str, str] = field(default_factory=dict)


def probe_preprocessing(graph: Graph, layout: InputLayout, network: Network) -> tuple[list[int], np.ndarray, np.ndarray]:
    """Read the input mask, means and scales from the graph at rotation angle 0 (graph units)."""
    n_columns = len(layout.columns)
    base = np.zeros(n_columns)
    skip = set()
    if layout.reference is not None:
        base[layout.reference[0]] = 1.0  # a reference along +x: every rotation is the identity
        # NOTE: the reference's y component cannot be probed without turning the event, so a network
        # input that reads it (always 0 after rotation) is reported as reading no column.
        skip.add(layout.reference[1])
    probes = [j for j in range(n_columns) if j not in skip]
    events = np.repeat(base[None, :], len(probes) + 1, axis=0)
    for row, j in enumerate(probes, start=1):
        events[row, j] += 1.0
    (values,) = run(graph, layout, events, [network.input])
    slopes = np.zeros((values.shape[1], n_columns))
    for row, j in enumerate(probes, start=1):
        slopes[:, j] = values[row] - values[0]
    offset = values[0] - (slopes[:, layout.reference[0]] if layout.reference is not None else 0.0)
    mask, mean, std = [], [], []
    for k in range(slopes.shape[0]):
        row = slopes[k]
        nonzero = np.flatnonzero(np.abs(row) > 1e-12 * max(1.0, np.abs(row).max()))
        if len(nonzero) != 1:
            found = ", ".join(layout.columns[j] for j in nonzero) or "no column"
            raise ConversionError(f"network input {k} depends on {found}; expected exactly one event column "
                                  "(a mask followed by standardisation)")
        j = int(nonzero[0])
        if row[j] <= 0:
            raise ConversionError(f"network input {k} reads '{layout.columns[j]}' with factor {row[j]:.6g}; a "
                                  "standardisation needs a positive factor 1 / std")
        mask.append(j)
        std.append(1.0 / row[j])
        mean.append(-offset[k] / row[j])
    return mask, np.array(mean), np.array(std)


def probe_postprocessing(graph: Graph, layout: InputLayout, network: Network, output: str,
                         outputs: int) -> tuple[np.ndarray, np.ndarray]:
    """Read the target means and scales from the graph at rotation angle 0 (graph units)."""
    base = np.zeros(len(layout.columns))
    if layout.reference is not None:
        base[layout.reference[0]] = 1.0
    events = np.repeat(base[None, :], outputs + 1, axis=0)
    (shape_probe,) = evaluate(graph, graph_feeds(graph.model, layout, events[:1]), [network.output])
    net_out = np.zeros((outputs + 1, outputs))
    for k in range(outputs):
        net_out[k + 1, k] = 1.0
    (result,) = run(graph, layout, events, [output], {network.output: net_out}, shape_probe.ndim - 2)
    slopes = (result[1:] - result[0]).T  # [graph output, network output]
    if slopes.shape != (2, 2) or np.abs(slopes - np.diag(np.diag(slopes))).max() > 1e-12 * np.abs(slopes).max():
        raise ConversionError(f"the graph output '{output}' mixes the network outputs at rotation angle 0 "
                              f"(slopes {slopes.tolist()}); expected out_k = net_k * std_k + mean_k")
    scale = np.diag(slopes)
    if (scale <= 0).any():
        raise ConversionError(f"the graph output '{output}' scales the network outputs by {scale.tolist()}; a "
                              "target standardisation needs positive scales")
    return result[0], scale


def build_document(network: Network, names: list[str], mean: np.ndarray, std: np.ndarray, target_mean: np.ndarray,
                   target_std: np.ndarray, rotate: bool, options: Options) -> dict:
    """Assemble the metnet JSON document (GeV statistics, float32 weights)."""
    def f32(values: np.ndarray) -> list:
        return np.asarray(values, dtype=np.float32).astype(np.float64).tolist()

    hidden = len(network.linear) - 1
    width = network.linear[0].weight.shape[0] if hidden > 0 else 0
    eps = network.eps if network.eps is not None else 1e-5
    return {
        "format": "metnet-weights",
        "version": 1,
        "features": {"inputs": names, "targets": ["True_EX", "True_EY"], "reference": options.reference,
                     "rotate": rotate},
        "standardisation": {"inputs": {"mean": mean.tolist(), "std": std.tolist()},
                            "targets": {"mean": target_mean.tolist(), "std": target_std.tolist()}},
        "network": {"inputs": len(names), "outputs": int(network.linear[-1].weight.shape[0]), "hidden_layers": hidden,
                    "width": int(width), "activation": network.activations[0] if network.activations else "identity",
                    "layer_norm": bool(network.norms), "layer_norm_eps": eps},
        "layers": [{"weight": f32(layer.weight), "bias": f32(layer.bias)} for layer in network.linear],
        "layer_norms": [{"gamma": f32(g), "beta": f32(b)} for g, b in network.norms],
        "loss": loss_settings(options.loss),
        "sample_weights": {"enabled": False, "bins": 500, "low": 0.0, "high": 450.0, "cap": True,
                           "weight_to": 360.0, "weight_from": 0.0},
        "metadata": dict(options.metadata),
    }


def loss_settings(name: str) -> dict:
    """Return the loss entry of a weights file with metnet's default parameters."""
    if name == "huber":
        return {"name": "huber", "parameters": {"delta": 1.0}}
    if name == "huber+sinkhorn":
        return {"name": "huber+sinkhorn", "parameters": {
            "first.delta": 1.0, "second.epsilon": 0.01, "second.annealing_factor": 0.5,
            "second.max_iterations": 100.0, "second.tolerance": 1e-3, "lambda": 1.0}}
    raise ConversionError(f"unknown loss '{name}'; expected huber or huber+sinkhorn (the loss is not stored in ONNX "
                          "and only decides which MetNet type loads the file)")


def replay(graph: Graph, layout: InputLayout, output: str, document: dict, unit: float,
           events: int = 64) -> float:
    """Return the worst relative deviation between the graph and the document on random events."""
    rng = np.random.default_rng(20240611)
    gev = rng.normal(0.0, 40.0, size=(events, len(layout.columns)))
    factors = np.array([unit if energy_column(c) else 1.0 for c in layout.columns])
    (graph_out,) = run(graph, layout, gev * factors, [output])
    expected = graph_out / unit
    found = metnet_forward(document, gev, layout.columns)
    scale = CHECK_ATOL + CHECK_RTOL * np.abs(expected)
    return float(np.max(np.abs(found - expected) / scale))


def convert(model: onnx.ModelProto, options: Options) -> dict:
    """Convert an ONNX METNet graph into a metnet JSON document; raises ConversionError."""
    graph = load_graph(model)
    check_supported(graph)
    if len(model.graph.output) != 1:
        raise ConversionError(f"the graph has {len(model.graph.output)} outputs; expected one [events, 2] output "
                              "with the MET x and y")
    output = model.graph.output[0].name
    network = match_network(graph)
    outputs = int(network.linear[-1].weight.shape[0])
    if outputs != 2:
        raise ConversionError(f"the network has {outputs} outputs; the importer supports networks that predict "
                              "(px, py), not the Gaussian NLL head (px, sigma_x, py, sigma_y)")
    layout = layout_inputs(model, options.features, options.angle_input, options.reference)
    unit = 1000.0 if options.units == "MeV" else 1.0

    mask, mean, std = probe_preprocessing(graph, layout, network)
    names = [layout.columns[j] for j in mask]
    factors = np.array([unit if energy_column(n) else 1.0 for n in names])
    mean, std = mean / factors, std / factors
    target_mean, target_std = probe_postprocessing(graph, layout, network, output, outputs)
    target_mean, target_std = target_mean / unit, target_std / unit

    exact = json.loads({p.key: p.value for p in model.metadata_props}.get("metnet.document", "null"))
    tried = []
    for rotate in (True, False):
        if rotate and (layout.reference is None or vector_pairs(names) is None):
            continue
        document = build_document(network, names, mean, std, target_mean, target_std, rotate, options)
        if exact is not None:
            adopt_exact_values(document, exact)
        document["metadata"].setdefault("units_of_source", options.units)
        deviation = replay(graph, layout, output, document, unit)
        if deviation <= 1.0:
            return document
        tried.append(f"rotate={str(rotate).lower()}: {deviation:.3g} x tolerance")
    raise ConversionError("the converted model does not reproduce the graph on random events (" + "; ".join(tried) +
                          "); the graph's pre- or post-processing is not metnet's (rotation of every _EX/_EY input "
                          f"pair by the angle of {options.reference}, standardisation, and the inverse on the "
                          "output). Check the feature names and --reference")


def adopt_exact_values(document: dict, exact: dict) -> None:
    """Replace probed statistics by the exact ones that metnet_to_onnx.py stored, when they agree."""
    for part in ("inputs", "targets"):
        for key in ("mean", "std"):
            probed = np.array(document["standardisation"][part][key])
            stored = np.array(exact["standardisation"][part][key])
            if probed.shape == stored.shape and np.allclose(probed, stored, rtol=1e-5, atol=1e-5 * np.abs(stored).max()):
                document["standardisation"][part][key] = stored.tolist()
    eps = exact["network"]["layer_norm_eps"]
    if document["network"]["layer_norm"] and float(np.float32(eps)) == document["network"]["layer_norm_eps"]:
        document["network"]["layer_norm_eps"] = eps
    for key in ("loss", "sample_weights"):
        document[key] = exact[key]
    document["metadata"] = {**exact.get("metadata", {}), **document["metadata"]}


def write_document(document: dict, path: Path) -> None:
    """Write the document like metnet's model_json_text: one top-level key per line."""
    lines = [f"  {json.dumps(k)}: {json.dumps(v, separators=(',', ':'))}" for k, v in document.items()]
    path.write_text("{\n" + ",\n".join(lines) + "\n}\n")


def parse_arguments(argv: Optional[list[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path, help="ONNX file exported from PyTorch")
    parser.add_argument("-o", "--output", type=Path, required=True, help="metnet JSON weights file to write")
    parser.add_argument("--features", type=Path, help="names of the columns of a matrix input, one per line "
                        "(default: the graph's input names, or its 'metnet.feature_names' metadata)")
    parser.add_argument("--units", choices=("GeV", "MeV"), default="GeV",
                        help="energy unit of the graph's inputs and outputs; MeV statistics are converted to GeV")
    parser.add_argument("--reference", default="Tight_Final",
                        help="prefix of the reference MET whose angle rotates the event (default: Tight_Final)")
    parser.add_argument("--angle-input", help="name of the graph input holding the rotation angle in radians "
                        "(default: an input named phi or angle)")
    parser.add_argument("--loss", default="huber", choices=("huber", "huber+sinkhorn"),
                        help="loss recorded in the file; it selects the MetNet type that loads it")
    parser.add_argument("--metadata", action="append", default=[], metavar="KEY=VALUE",
                        help="extra metadata entry for the weights file (repeatable)")
    return parser.parse_args(argv)


def main(argv: Optional[list[str]] = None) -> int:
    """Run the converter; returns the process exit code."""
    arguments = parse_arguments(argv)
    metadata = {"converted_from": arguments.model.name, "converter": "tools/onnx_to_metnet.py",
                "units": "GeV"}
    for item in arguments.metadata:
        key, _, value = item.partition("=")
        metadata[key] = value
    options = Options(read_feature_names(arguments.features) if arguments.features else None, arguments.units,
                      arguments.reference, arguments.angle_input, arguments.loss, metadata)
    try:
        document = convert(onnx.load(str(arguments.model)), options)
    except ConversionError as error:
        print(f"onnx_to_metnet: {arguments.model}: {error}", file=sys.stderr)
        return 2
    write_document(document, arguments.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
