"""Speed of the batched trainer against the notebook's one-at-a-time loop, in one run.

Trains seed 0's default grid (every network one seed's job trains) with the workflow's
fast path, and a few of the same networks with the reference loop (``nn.Module`` +
autograd + ``torch.optim.Adam``, as the notebook does), each for the full number of steps,
and prints seconds per network and their ratio. Then it measures the cost per network
against the number of networks trained together (fewer steps, scaled to the full count),
the curve the config's ``batch_size`` is chosen from. Compilation is timed apart: it is
paid once per job, not per step.

Writes ``benchmarks/<device>.json`` (the report's cost section reads every such file).

    python scripts/benchmark.py                 # CPU, a few minutes on 2 cores
    python scripts/benchmark.py --device cuda   # on a machine with CUDA
"""

import argparse
import datetime
import os
import platform
import time

import torch

from normbound import NETWORKS, config as study_config, io
from normbound.data import load_dataset, split_data
from normbound.train import Grid, pick_device, train_grid, train_reference


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    with open("/proc/cpuinfo") as handle:
        model = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")),
                     platform.processor())
    return f"{model}, {torch.get_num_threads()} threads"


def timed(fn, device: torch.device) -> float:
    """Wall seconds of ``fn()``, synchronising the GPU around it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def scaled_grid(grid: Grid, size: int) -> Grid:
    """``size`` networks, cycling through ``grid`` (the same work per network)."""
    pick = [i % len(grid) for i in range(size)]
    return Grid(*([getattr(grid, f)[i] for i in pick] for f in ("models", "lams", "subsets")))


def benchmark(config: dict, device: str, reference_networks: int, sizes: list[int], scaling_steps: int) -> dict:
    dev = pick_device(device)
    X, t = load_dataset(config["dataset"]["source"], config["dataset"]["target"])
    data, _ = split_data(X, t, 0, config["test_fraction"], config["label_noise"], config["validation_fraction"])
    grid = Grid.study(config["lambdas"]["frob"], config["lambdas"]["mix"])
    steps, lr, hidden = config["steps"], config["lr"], config["hidden"]

    def fast(g, n):
        return train_grid(g, data, 0, hidden, n, lr, config["init_scale"], str(dev), compile_step=True)

    compile_seconds = timed(lambda: fast(grid, 2), dev)  # compiles for this shape, then cached
    fast_seconds = timed(lambda: fast(grid, steps), dev) / len(grid)
    picks = [grid.models.index(m) for m in NETWORKS][:reference_networks]
    reference_seconds = sum(
        timed(lambda i=i: train_reference(grid.models[i], grid.lams[i], data, 0, hidden, steps, lr,
                                             config["init_scale"]), torch.device("cpu"))
        for i in picks) / len(picks)
    print(f"{device_name(dev)}, torch {torch.__version__}, {steps} steps")
    print(f"reference loop (notebook): {reference_seconds:.3f} s per network ({len(picks)} networks, CPU)")
    print(f"batched fast path:         {fast_seconds:.3f} s per network ({len(grid)} networks together, "
          f"{compile_seconds:.1f} s compile once)")
    print(f"ratio:                     {reference_seconds / fast_seconds:.1f}x")
    scaling = []
    for size in sizes:
        g = scaled_grid(grid, size)
        fast(g, 2)
        per_network = timed(lambda: fast(g, scaling_steps), dev) / size * steps / scaling_steps
        scaling.append(dict(networks=size, seconds_per_network=per_network))
        print(f"  {size:6d} networks together: {per_network:.4f} s per network per {steps} steps")
    return dict(device=dev.type, device_name=device_name(dev), torch=torch.__version__,
                date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                steps=steps, networks=len(grid), reference_networks=len(picks),
                reference_seconds_per_network=reference_seconds, fast_seconds_per_network=fast_seconds,
                compile_seconds=compile_seconds, ratio=reference_seconds / fast_seconds,
                scaling_steps=scaling_steps, scaling=scaling)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--reference-networks", type=int, default=3, choices=[1, 2, 3],
                        help="networks timed with the slow reference loop: nn, nn_frob, nn_mix (default 3)")
    parser.add_argument("--sizes", type=int, nargs="+", default=None,
                        help="batch sizes of the scaling curve (default: 1..256 on the CPU, 1..16384 on a GPU)")
    parser.add_argument("--scaling-steps", type=int, default=500, help="steps per scaling point (default 500)")
    parser.add_argument("--out", default=None, help="JSON output (default: benchmarks/<device>.json)")
    study_config.add_config_arguments(parser)
    args = parser.parse_args(argv)
    config = study_config.load_config(args.config, args.schema)
    sizes = args.sizes or [2**k for k in range(0, 9 if args.device == "cpu" else 15)]
    result = benchmark(config, args.device, args.reference_networks, sizes, args.scaling_steps)
    out = args.out or os.path.join("benchmarks", f"{result['device']}.json")
    io.write_json(out, result)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
