#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Time one PyTorch training step (forward, Huber loss, backward, Adam) of
Net S and Net L at batch 1024, for comparison with metnet's training step.

Run with Debian's interpreter, after installing libopenblas0-pthread (the
reference BLAS makes PyTorch 10-35 times slower):
    /usr/bin/python3 benchmarks/pytorch_train_step.py --threads 1
Prints the median wall time per step, events per second and the median
process CPU time per step (all threads together) over interleaved rounds of
Net S and Net L. On a loaded machine the CPU time is the figure to compare
with the CPU column of BM_TrainStep.
"""

import argparse
import os
import statistics
import sys
import time

NETS = {"S": (77, 128, 10), "L": (76, 512, 5)}


def make_network(inputs: int, width: int, layers: int) -> "torch.nn.Sequential":
    """Build inputs -> layers x [Linear(width), SiLU, LayerNorm(width)] -> Linear(2)."""
    modules = []
    previous = inputs
    for _ in range(layers):
        modules += [torch.nn.Linear(previous, width), torch.nn.SiLU(), torch.nn.LayerNorm(width)]
        previous = width
    modules.append(torch.nn.Linear(previous, 2))
    return torch.nn.Sequential(*modules)


def time_steps(network, optimiser, loss_function, inputs, targets, steps: int) -> tuple:
    """Return the mean wall and process CPU seconds per training step over `steps` steps."""
    start = time.perf_counter()
    start_cpu = time.process_time()
    for _ in range(steps):
        optimiser.zero_grad(set_to_none=True)
        loss = loss_function(network(inputs), targets)
        loss.backward()
        optimiser.step()
    return (time.perf_counter() - start) / steps, (time.process_time() - start_cpu) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads value")
    parser.add_argument("--batch", type=int, default=1024, help="events per step")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved timing rounds per network")
    parser.add_argument("--steps", type=int, default=5, help="steps per round")
    arguments = parser.parse_args()

    # Debian's PyTorch runs its matrix products in the system BLAS (OpenBLAS
    # with pthreads), whose thread count torch.set_num_threads does not set:
    # without this, --threads 1 still ran the products on two threads. The
    # variable must be set before the library is loaded.
    if "torch" in sys.modules:
        raise RuntimeError("torch was imported before OPENBLAS_NUM_THREADS could be set")
    os.environ["OPENBLAS_NUM_THREADS"] = str(arguments.threads)
    global torch  # pylint: disable=global-statement,invalid-name
    import torch  # pylint: disable=import-outside-toplevel,redefined-outer-name

    torch.manual_seed(2024)
    torch.set_num_threads(arguments.threads)
    setups = {}
    for name, (inputs, width, layers) in NETS.items():
        network = make_network(inputs, width, layers)
        optimiser = torch.optim.Adam(network.parameters(), lr=1e-3)
        batch_inputs = torch.randn(arguments.batch, inputs)
        batch_targets = torch.randn(arguments.batch, 2)
        setups[name] = (network, optimiser, torch.nn.HuberLoss(delta=1.0), batch_inputs, batch_targets)
        time_steps(*setups[name], steps=2)  # warm-up

    times = {name: [] for name in NETS}
    for _ in range(arguments.rounds):
        for name, setup in setups.items():
            times[name].append(time_steps(*setup, steps=arguments.steps))

    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, batch {arguments.batch}")
    for name, values in times.items():
        step = statistics.median(wall for wall, _ in values)
        cpu = statistics.median(cpu for _, cpu in values)
        print(f"BM_TrainStep/{name}/{arguments.batch} (PyTorch): {step * 1e3:8.2f} ms per step, "
              f"{arguments.batch / step:9.0f} events/s, {cpu * 1e3:8.2f} ms CPU per step")


if __name__ == "__main__":
    main()
