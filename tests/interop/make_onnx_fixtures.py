#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Make the ONNX interoperability fixtures of tests/interop.

Exports small METNet-shaped networks from PyTorch 1.13 (torch.onnx.export),
converts them with tools/onnx_to_metnet.py and writes, for each network:
  fixtures/<name>.onnx           the exported graph
  fixtures/<name>.json           the converted metnet weights file
  fixtures/<name>.expected.json  fixed events (GeV, by column name) and the PyTorch outputs (GeV)
It then exports one converted model back with tools/metnet_to_onnx.py,
checks it with onnx.checker, converts it again and writes the round trip,
and runs the converter's rejection checks (Python only, not in CI).

Run from anywhere with Debian's /usr/bin/python3 (python3-torch, python3-onnx).
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import onnx
import torch
from torch import nn

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
FIXTURES = HERE / "fixtures"
sys.path.insert(0, str(ROOT / "tools"))

import metnet_to_onnx  # noqa: E402
import onnx_to_metnet  # noqa: E402

# The 12 network inputs, the reference MET and two columns that the mask drops.
INPUTS = ["Tight_Final_ET", "Loose_Final_EX", "Loose_Final_EY", "Loose_Final_SumET", "Tghtr_Final_EX",
          "Tghtr_Final_EY", "Calo_Final_EX", "Calo_Final_EY", "Track_Final_EX", "Track_Final_EY", "ActMu", "N_Jets"]
COLUMNS = ["RunNumber", "Track_Final_EY", "Tight_Final_EX", "Loose_Final_EX", "ActMu", "Calo_Final_EY",
           "Tight_Final_ET", "Tghtr_Final_EX", "Loose_Final_SumET", "Tight_Final_EY", "N_Jets", "Loose_Final_EY",
           "Calo_Final_EX", "EventWeight", "Tghtr_Final_EY", "Track_Final_EX"]
EVENTS = 8


class MatMulLinear(nn.Module):
    """A Linear layer written as x @ W + b, which exports as MatMul + Add with W stored [in, out]."""

    def __init__(self, inputs: int, outputs: int) -> None:
        """Initialise like nn.Linear and store the weight transposed."""
        super().__init__()
        reference = nn.Linear(inputs, outputs)
        self.weight_t = nn.Parameter(reference.weight.detach().t().contiguous())
        self.bias = nn.Parameter(reference.bias.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply x @ W + b."""
        return torch.matmul(x, self.weight_t) + self.bias


class Mlp(nn.Module):
    """metnet's layout: (Linear, activation, optional LayerNorm) per hidden layer and a Linear head."""

    def __init__(self, inputs: int, width: int, hidden: int, outputs: int, activation: str, layer_norm: bool,
                 eps: float, matmul: bool, dropout: float = 0.0) -> None:
        """Build the layers with torch's default initialisation and random LayerNorm parameters."""
        super().__init__()
        make: Callable[[int, int], nn.Module] = MatMulLinear if matmul else nn.Linear
        layers: list[nn.Module] = []
        for i in range(hidden):
            layers.append(make(inputs if i == 0 else width, width))
            layers.append({"silu": nn.SiLU(), "relu": nn.ReLU(), "tanh": nn.Tanh()}[activation])
            if layer_norm:
                norm = nn.LayerNorm(width, eps=eps)
                with torch.no_grad():
                    norm.weight.uniform_(0.5, 1.5)
                    norm.bias.uniform_(-0.3, 0.3)
                layers.append(norm)
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
        layers.append(make(width, outputs))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run the layers."""
        return self.layers(x)


class WithProcessing(nn.Module):
    """A METNet graph: mask, rotation by the angle input, standardisation, network, and their inverses."""

    def __init__(self, network: nn.Module, mean: np.ndarray, std: np.ndarray, target_mean: np.ndarray,
                 target_std: np.ndarray) -> None:
        """Store the mask, the pair positions and the statistics as constant buffers (graph units)."""
        super().__init__()
        self.network = network
        self.register_buffer("mask", torch.tensor([COLUMNS.index(n) for n in INPUTS]))
        pairs = onnx_to_metnet.vector_pairs(INPUTS)
        xs, ys = [p[0] for p in pairs], [p[1] for p in pairs]
        others = [i for i in range(len(INPUTS)) if i not in xs + ys]
        self.register_buffer("xs", torch.tensor(xs))
        self.register_buffer("ys", torch.tensor(ys))
        self.register_buffer("others", torch.tensor(others))
        self.register_buffer("order", torch.tensor(np.argsort(xs + ys + others)))
        for name, values in (("mean", mean), ("std", std), ("target_mean", target_mean),
                             ("target_std", target_std)):
            self.register_buffer(name, torch.tensor(values, dtype=torch.float32))

    def forward(self, features: torch.Tensor, phi: torch.Tensor) -> torch.Tensor:
        """Predict the MET (x, y) in the detector frame from all columns and the reference angle."""
        x = features[:, self.mask]
        c, s = torch.cos(phi), torch.sin(phi)
        px, py = x[:, self.xs], x[:, self.ys]
        turned = torch.cat([px * c + py * s, -px * s + py * c, x[:, self.others]], dim=1)
        z = (turned[:, self.order] - self.mean) / self.std
        out = self.network(z) * self.target_std + self.target_mean
        ox, oy = out[:, 0:1], out[:, 1:2]
        return torch.cat([ox * c - oy * s, ox * s + oy * c], dim=1)


def export(module: nn.Module, arguments: tuple, names: list[str], opset: int, training: bool = False) -> onnx.ModelProto:
    """Export a module with a dynamic event axis and return the checked ONNX model."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, arguments, buffer, opset_version=opset, input_names=names, output_names=["met"],
                          dynamic_axes={**{n: {0: "events"} for n in names}, "met": {0: "events"}},
                          training=torch.onnx.TrainingMode.TRAINING if training else torch.onnx.TrainingMode.EVAL,
                          do_constant_folding=not training)
    model = onnx.load_from_string(buffer.getvalue())
    onnx.checker.check_model(model)
    return model


def energy_factors(names: list[str], unit: float) -> np.ndarray:
    """Return the per-column factor from GeV to the graph's unit."""
    return np.array([unit if onnx_to_metnet.energy_column(n) else 1.0 for n in names])


def make_events(rng: np.random.Generator) -> np.ndarray:
    """Return fixed events (GeV) over COLUMNS, with a reference MET away from zero."""
    events = rng.normal(0.0, 35.0, size=(EVENTS, len(COLUMNS)))
    events[:, COLUMNS.index("ActMu")] = rng.uniform(10, 60, EVENTS)
    events[:, COLUMNS.index("N_Jets")] = rng.integers(0, 8, EVENTS)
    events[:, COLUMNS.index("Loose_Final_SumET")] = rng.uniform(100, 900, EVENTS)
    events[:, COLUMNS.index("Tight_Final_ET")] = np.hypot(events[:, COLUMNS.index("Tight_Final_EX")],
                                                          events[:, COLUMNS.index("Tight_Final_EY")])
    return events.astype(np.float32).astype(np.float64)


def statistics(rng: np.random.Generator, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Return plausible means and standard deviations (GeV) for the columns."""
    mean = rng.normal(0.0, 5.0, len(names))
    std = rng.uniform(10.0, 60.0, len(names))
    for name, m, s in (("ActMu", 35.0, 12.0), ("N_Jets", 3.0, 2.0), ("Loose_Final_SumET", 450.0, 200.0),
                       ("Tight_Final_ET", 40.0, 30.0)):
        if name in names:
            mean[names.index(name)], std[names.index(name)] = m, s
    return mean, std


def write_case(name: str, model: onnx.ModelProto, arguments: list[str], columns: list[str], events: np.ndarray,
               met: np.ndarray, note: str) -> dict:
    """Write the ONNX file, convert it with the command-line tool, and write the expected outputs."""
    FIXTURES.mkdir(exist_ok=True)
    onnx_path = FIXTURES / f"{name}.onnx"
    onnx.save(model, str(onnx_path))
    json_path = FIXTURES / f"{name}.json"
    subprocess.run([sys.executable, str(ROOT / "tools" / "onnx_to_metnet.py"), str(onnx_path), "-o", str(json_path),
                    "--metadata", f"fixture={name}", *arguments], check=True)
    document = json.loads(json_path.read_text())
    converted = onnx_to_metnet.metnet_forward(document, events, columns)
    deviation = np.max(np.abs(converted - met) / (1e-5 + 1e-5 * np.abs(met)))
    print(f"{name}: {len(model.graph.node)} nodes, worst deviation of the NumPy metnet model "
          f"{deviation:.3g} x tolerance")
    expected = {"source": f"tests/interop/make_onnx_fixtures.py: {note}", "columns": columns,
                "events": events.tolist(), "met": met.tolist()}
    (FIXTURES / f"{name}.expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    return document


def plain_case(name: str, activation: str, layer_norm: bool, eps: float, opset: int, matmul: bool,
               seed: int) -> None:
    """Export a network without pre-processing (its inputs are the 12 standardised features)."""
    torch.manual_seed(seed)
    net = Mlp(len(INPUTS), 16, 2, 2, activation, layer_norm, eps, matmul).eval()
    model = export(net, (torch.zeros(1, len(INPUTS)),), ["x"], opset)
    rng = np.random.default_rng(seed)
    events = rng.normal(0.0, 1.5, size=(EVENTS, len(INPUTS))).astype(np.float32).astype(np.float64)
    with torch.no_grad():
        met = net(torch.tensor(events, dtype=torch.float32)).double().numpy()
    features = FIXTURES / "plain_features.txt"
    features.write_text("\n".join(INPUTS) + "\n")
    write_case(name, model, ["--features", str(features)], INPUTS, events, met,
               f"{activation}, layer_norm={layer_norm}, eps={eps}, opset {opset}, "
               f"{'MatMul+Add' if matmul else 'Gemm'}, torch {torch.__version__}")


def processed_case(name: str, opset: int, matmul: bool, eps: float, unit: float, seed: int) -> dict:
    """Export a METNet graph with mask, rotation and standardisation, in GeV or MeV."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = Mlp(len(INPUTS), 16, 2, 2, "silu", True, eps, matmul).eval()
    mean, std = statistics(rng, INPUTS)
    factors = energy_factors(INPUTS, unit)
    target_mean, target_std = np.array([3.0, -1.5]), np.array([45.0, 38.0])
    module = WithProcessing(net, mean * factors, std * factors, target_mean * unit, target_std * unit).eval()
    model = export(module, (torch.zeros(1, len(COLUMNS)), torch.zeros(1, 1)), ["features", "phi"], opset)
    events = make_events(rng)
    phi = np.arctan2(events[:, COLUMNS.index("Tight_Final_EY")], events[:, COLUMNS.index("Tight_Final_EX")])
    with torch.no_grad():
        met = module(torch.tensor(events * energy_factors(COLUMNS, unit), dtype=torch.float32),
                     torch.tensor(phi[:, None], dtype=torch.float32)).double().numpy() / unit
    features = FIXTURES / "processed_features.txt"
    features.write_text("\n".join(COLUMNS) + "\n")
    units = "MeV" if unit != 1.0 else "GeV"
    return write_case(name, model, ["--features", str(features), "--units", units], COLUMNS, events, met,
                      f"mask, rotation, standardisation in {units}, silu + LayerNorm eps={eps}, opset {opset}, "
                      f"{'MatMul+Add' if matmul else 'Gemm'}, torch {torch.__version__}")


def dropout_case() -> None:
    """ONNX-style Dropout check: Linear(2,2), Dropout(0.5), Linear(2,2) gives 13.5 in inference mode."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 2), nn.Tanh(), nn.Dropout(0.5), nn.Linear(2, 2))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0, -1.0], [0.5, 2.0]]))
        net[0].bias.copy_(torch.tensor([0.0, 1.0]))
        net[3].weight.copy_(torch.tensor([[2.0, 3.0], [0.0, 0.0]]))
        net[3].bias.copy_(torch.tensor([-1.0, 0.0]))
    net.eval()
    model = export(net, (torch.zeros(1, 2),), ["x"], 13)
    events = np.array([[1.0, 2.0], [0.5, -0.25]])
    with torch.no_grad():
        met = net(torch.tensor(events, dtype=torch.float32)).double().numpy()
    features = FIXTURES / "dropout_features.txt"
    features.write_text("A\nB\n")
    write_case("dropout_eval", model, ["--features", str(features)], ["A", "B"], events, met,
               f"Linear, Tanh, Dropout(0.5) in eval mode, Linear; opset 13, torch {torch.__version__}")


def round_trip_case(document_path: Path) -> None:
    """Export a converted model with metnet_to_onnx.py, check it, import it again and compare."""
    document = json.loads(document_path.read_text())
    model = metnet_to_onnx.to_onnx(document)
    onnx.checker.check_model(model, full_check=True)
    onnx_path = FIXTURES / "round_trip.onnx"
    onnx.save(model, str(onnx_path))
    json_path = FIXTURES / "round_trip.json"
    subprocess.run([sys.executable, str(ROOT / "tools" / "onnx_to_metnet.py"), str(onnx_path), "-o",
                    str(json_path)], check=True)
    again = json.loads(json_path.read_text())
    for key in ("features", "standardisation", "network", "layers", "layer_norms", "loss", "sample_weights"):
        if again[key] != document[key]:
            raise SystemExit(f"round trip changed '{key}'")
    expected = json.loads(document_path.with_name(document_path.stem + ".expected.json").read_text())
    columns = metnet_to_onnx.event_columns(document)
    events = np.array(expected["events"])[:, [expected["columns"].index(c) for c in columns]]
    graph = onnx_to_metnet.load_graph(model)
    feeds = {c: events[:, i:i + 1] for i, c in enumerate(columns)}
    (graph_met,) = onnx_to_metnet.evaluate(graph, feeds, ["met"])
    met = onnx_to_metnet.metnet_forward(document, events, columns)
    deviation = float(np.max(np.abs(graph_met - met) / (1e-5 + 1e-5 * np.abs(met))))
    print(f"round_trip: {len(model.graph.node)} nodes, exported graph vs metnet {deviation:.3g} x tolerance, "
          "document identical after import")
    if deviation > 1.0:
        raise SystemExit("the exported graph does not reproduce the metnet model")
    out = {"source": "tests/interop/make_onnx_fixtures.py: processed_opset11_gemm.json exported by "
                     "tools/metnet_to_onnx.py and imported again; met is the NumPy metnet model (float64)",
           "columns": columns, "events": events.tolist(), "met": met.tolist()}
    (FIXTURES / "round_trip.expected.json").write_text(json.dumps(out, indent=1) + "\n")


def expect_rejection(label: str, model: onnx.ModelProto, fragment: str,
                     options: Optional[onnx_to_metnet.Options] = None) -> None:
    """Check that the converter rejects `model` with a message containing `fragment`."""
    try:
        onnx_to_metnet.convert(model, options or onnx_to_metnet.Options(features=[f"f{i}" for i in range(12)]))
    except onnx_to_metnet.ConversionError as error:
        if fragment not in str(error):
            raise SystemExit(f"rejection '{label}': message lacks '{fragment}': {error}")
        print(f"rejected as expected ({label}): {error}")
        return
    raise SystemExit(f"rejection '{label}': the converter accepted the model")


def check_rejections() -> None:
    """Run the converter on graphs it must reject, and on an inference-mode Dropout node it must accept."""
    torch.manual_seed(3)
    net = Mlp(12, 8, 1, 2, "silu", True, 1e-5, False, dropout=0.5)
    net.train()
    expect_rejection("training-mode Dropout", export(net, (torch.zeros(1, 12),), ["x"], 13, training=True),
                     "model.eval()")

    class WithBatchNorm(nn.Module):
        """A Linear, BatchNorm1d, ReLU network."""

        def __init__(self) -> None:
            """Build the layers."""
            super().__init__()
            self.layers = nn.Sequential(nn.Linear(12, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            """Run the layers."""
            return self.layers(x)

    model = export(WithBatchNorm().eval(), (torch.zeros(2, 12),), ["x"], 13)
    if any(n.op_type == "BatchNormalization" for n in model.graph.node):
        expect_rejection("BatchNormalization", model, "batch normalisation")
    else:
        print("BatchNorm1d was folded into the Linear layer by the exporter; nothing to reject")

    softplus = nn.Sequential(nn.Linear(12, 8), nn.Softplus(), nn.Linear(8, 2)).eval()
    expect_rejection("unknown operator", export(softplus, (torch.zeros(1, 12),), ["x"], 13), "Softplus")
    sigmoid = nn.Sequential(nn.Linear(12, 8), nn.Sigmoid(), nn.Linear(8, 2)).eval()
    expect_rejection("lone Sigmoid", export(sigmoid, (torch.zeros(1, 12),), ["x"], 13), "SiLU must be exported")
    norm_first = nn.Sequential(nn.Linear(12, 8), nn.LayerNorm(8), nn.SiLU(), nn.Linear(8, 2)).eval()
    expect_rejection("LayerNorm before activation", export(norm_first, (torch.zeros(1, 12),), ["x"], 17),
                     "do not follow metnet's layout")
    four = Mlp(12, 8, 1, 4, "silu", True, 1e-5, False).eval()
    expect_rejection("four outputs", export(four, (torch.zeros(1, 12),), ["x"], 17), "4 outputs")
    expect_rejection("missing feature names", export(Mlp(12, 8, 1, 2, "relu", False, 1e-5, False).eval(),
                                                     (torch.zeros(1, 12),), ["x"], 13),
                     "--features", onnx_to_metnet.Options())

    # An inference-mode Dropout node (training_mode false) is an identity.
    net = Mlp(12, 8, 1, 2, "relu", False, 1e-5, False).eval()
    model = export(net, (torch.zeros(1, 12),), ["x"], 13)
    relu = next(n for n in model.graph.node if n.op_type == "Relu")
    consumer = next(n for n in model.graph.node if relu.output[0] in n.input)
    false = onnx.helper.make_tensor("training_off", onnx.TensorProto.BOOL, [], [False])
    ratio = onnx.helper.make_tensor("ratio", onnx.TensorProto.FLOAT, [], [0.5])
    model.graph.initializer.extend([false, ratio])
    dropout = onnx.helper.make_node("Dropout", [relu.output[0], "ratio", "training_off"], ["dropped"],
                                    name="inserted_dropout")
    consumer.input[list(consumer.input).index(relu.output[0])] = "dropped"
    nodes = list(model.graph.node)
    nodes.insert(nodes.index(relu) + 1, dropout)
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    onnx.checker.check_model(model)
    document = onnx_to_metnet.convert(model, onnx_to_metnet.Options(features=[f"f{i}" for i in range(12)]))
    x = np.linspace(-1, 1, 24).reshape(2, 12)
    with torch.no_grad():
        expected = net(torch.tensor(x, dtype=torch.float32)).double().numpy()
    found = onnx_to_metnet.metnet_forward(document, x, [f"f{i}" for i in range(12)])
    if np.max(np.abs(found - expected)) > 1e-5:
        raise SystemExit("an inference-mode Dropout node changed the output")
    print("accepted as expected (inference-mode Dropout node is an identity)")


def main() -> int:
    """Write every fixture, then run the round trip and the rejection checks."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-rejections", action="store_true", help="write the fixtures only")
    arguments = parser.parse_args()
    FIXTURES.mkdir(exist_ok=True)
    plain_case("plain_silu_ln_opset17_gemm", "silu", True, 1e-5, 17, False, 11)
    plain_case("plain_relu_opset13_gemm", "relu", False, 1e-5, 13, False, 12)
    plain_case("plain_tanh_ln_opset11_matmul", "tanh", True, 1e-3, 11, True, 13)
    processed_case("processed_opset11_gemm", 11, False, 1e-3, 1.0, 21)
    processed_case("processed_opset17_matmul_mev", 17, True, 1e-5, 1000.0, 22)
    dropout_case()
    round_trip_case(FIXTURES / "processed_opset11_gemm.json")
    if not arguments.skip_rejections:
        check_rejections()
    return 0


if __name__ == "__main__":
    sys.exit(main())
