"""Speed of the batched fast path against the notebook's one-at-a-time loop, in one run.

Trains seed 0's grid of the notebook's networks (``nn`` and the ``frob`` and ``mix`` λ
grids, as one seed's job trains them; the comparators, which train in chunks of their own,
are not part of it) with the workflow's fast path, and the notebook's three networks (``nn``, and ``nn_frob``, ``nn_mix`` at the
notebook's λ) with the reference loop (``nn.Module`` + autograd + ``torch.optim.Adam``),
each for the full number of steps, and prints seconds per network and their ratio. The
fast path runs as the training jobs run it, with denormal floats flushed to zero; the
reference loop runs as the notebook runs it, without (on Intel CPUs denormals make it up
to 4x slower as training goes on, so both are timed over every step).

Then the cost per network against the number of networks trained together, the curve the
config's ``batch_size`` is chosen from: every point is timed over the full number of
steps, since steps get slower as training goes on and a shorter run would not say how
much. The default sizes keep the CPU run to a few minutes on 2 cores: 1, 4, 16, one
seed's grid (29) and 64. On CUDA the sizes are 1, one seed's grid and 1 024 networks, with
the graph of compiled steps (the default) and of uncompiled ones (no compile cost).

Compilation is timed apart, as each shape's first call: it is paid once per shape and
job, not per step, and is much shorter when torch's on-disk compile cache is warm from an
earlier run. Training times are the training loop's (``TrainResult.seconds``), without
the measurements before and after. The load average is recorded: on 2 cores any other
work slows 2-thread runs (set ``OMP_WAIT_POLICY=PASSIVE`` on a shared machine).

The roofline (CPU), in the same run, right after the fast path's point: the machine's
float32 GEMM rate (a square product of ``--gemm-size``, 2048 by default, best of a few
reps), and the two matrix products of one training step at the chunk's shapes (for M
networks of h hidden units, d inputs and N training points: the forward ``A = P X1ᵀ``,
(M·h, d+1) × (d+1, N), and the backward ``mask(A) @ (g·X1)``, M products (h, N) × (N, d+1);
:func:`normbound.objective.objective_and_gradient`), timed the same way. Their sum, times the
steps, per network, is the step's GEMM floor: no trainer that does those two products can
be faster. The trainer's seconds per network are reported against it (``ratio_to_floor``)
and against the GEMM rate (``fraction_of_peak``: the two products' FLOPs over the
trainer's time, as a share of the rate). FLOPs count 2·m·n·k a product.

Writes ``benchmarks/<device>.json`` (the report's cost section reads every such file).

    python scripts/benchmark.py                 # CPU, a few minutes on 2 cores
    python scripts/benchmark.py --device cuda   # on a machine with CUDA
"""

import argparse
import datetime
import importlib.util
import math
import os
import time

import torch

from normbound import NETWORKS, PENALTY, config as study_config, io
from normbound.penalties import notebook
from normbound.data import load_dataset, split_data
from normbound.grid import Grid
from normbound.reference import train_reference
from normbound.train import CUDA_UNROLL, pick_device, train_grid


def matmul_flops(m: int, n: int, k: int, batch: int = 1) -> int:
    """Floating-point operations of ``batch`` products (m, k) × (k, n): 2·m·n·k each."""
    return 2 * batch * m * n * k


def best_seconds(fn, reps: int = 5, min_seconds: float = 0.05) -> float:
    """Seconds per call of ``fn``, the best of ``reps`` timings of as many calls as take at
    least ``min_seconds`` (counted on a first call, which also warms caches up)."""
    start = time.perf_counter()
    fn()
    number = max(1, math.ceil(min_seconds / max(time.perf_counter() - start, 1e-9)))
    best = math.inf
    for _ in range(reps):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - start) / number)
    return best


def gemm_rate(size: int = 2048, reps: int = 5, dtype=torch.float32) -> dict:
    """The machine's GEMM rate on the current torch threads: a (size, size) × (size, size)
    product, best of ``reps``."""
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(size, size, generator=gen, dtype=dtype), torch.randn(size, size, generator=gen, dtype=dtype)
    out = torch.empty(size, size, dtype=dtype)
    seconds = best_seconds(lambda: torch.mm(a, b, out=out), reps)
    flops = matmul_flops(size, size, size)
    return dict(size=size, flops=flops, seconds=seconds, gflops=flops / seconds / 1e9)


def step_products(networks: int, hidden: int, inputs: int, points: int, dtype=torch.float32) -> dict:
    """The two matrix products of one training step of ``networks`` networks, as
    :func:`normbound.objective.objective_and_gradient` does them (``inputs`` d, so the flat
    buffer P has d + 1 columns, [W | b]; ``points`` N training points), on operands of their
    shapes: name -> (a function that computes the product into a preallocated output, its
    FLOPs, its shape as m × k × n per product and the number of products)."""
    gen = torch.Generator().manual_seed(0)
    d1 = inputs + 1
    P = torch.randn(networks * hidden, d1, generator=gen, dtype=dtype)
    X1t = torch.randn(d1, points, generator=gen, dtype=dtype)
    mask = (torch.rand(networks, hidden, points, generator=gen) > 0.5).to(dtype)  # sign(relu(A)): 0 or 1
    gX1 = torch.randn(networks, points, d1, generator=gen, dtype=dtype)
    forward, backward = torch.empty(networks * hidden, points, dtype=dtype), torch.empty(networks, hidden, d1, dtype=dtype)
    return {
        "forward": (lambda: torch.mm(P, X1t, out=forward), matmul_flops(networks * hidden, points, d1),
                    f"{networks * hidden} x {d1} x {points}", 1),
        "backward": (lambda: torch.bmm(mask, gX1, out=backward), matmul_flops(hidden, d1, points, networks),
                     f"{hidden} x {points} x {d1}", networks),
    }


def roofline(networks: int, hidden: int, inputs: int, points: int, steps: int, trainer_seconds_per_network: float,
             gemm: dict, reps: int = 5) -> dict:
    """The step's GEMM floor for a chunk of ``networks`` networks (:func:`step_products`,
    each timed as :func:`best_seconds`) in seconds per network per ``steps`` steps, and the
    trainer's seconds per network against it and against ``gemm`` (:func:`gemm_rate`)."""
    products = {}
    for name, (fn, flops, shape, count) in step_products(networks, hidden, inputs, points).items():
        seconds = best_seconds(fn, reps)
        products[name] = dict(shape=shape, products=count, flops=flops, seconds=seconds, gflops=flops / seconds / 1e9)
    return roofline_figures(networks, steps, products, trainer_seconds_per_network, gemm["gflops"])


def roofline_figures(networks: int, steps: int, products: dict, trainer_seconds_per_network: float,
                     gemm_gflops: float) -> dict:
    """The roofline's arithmetic: ``products`` (name -> ``flops`` and ``seconds`` of one
    step's product for the chunk of ``networks``) summed into the step's GEMM floor per
    network per ``steps`` steps, the trainer's ratio to it, and the shares of ``gemm_gflops``
    that the floor and the trainer reach on the products' FLOPs."""
    step_flops = sum(p["flops"] for p in products.values())
    step_seconds = sum(p["seconds"] for p in products.values())
    floor = step_seconds * steps / networks
    flops_per_network = step_flops * steps / networks
    return dict(roofline_networks=networks, step_products=products, step_gemm_flops=step_flops,
                step_gemm_seconds=step_seconds, step_gemm_floor_seconds_per_network=floor,
                ratio_to_floor=trainer_seconds_per_network / floor,
                floor_fraction_of_peak=flops_per_network / floor / (gemm_gflops * 1e9),
                fraction_of_peak=flops_per_network / trainer_seconds_per_network / (gemm_gflops * 1e9))


def scaled_grid(grid: Grid, size: int) -> Grid:
    """``size`` networks, cycling through ``grid`` (the same work per network)."""
    pick = [i % len(grid) for i in range(size)]
    return Grid(*([getattr(grid, f)[i] for i in pick] for f in ("models", "lams", "subsets")))


def notebook_grid(config: dict) -> Grid:
    """One seed's networks of the notebook's kinds (see the module's docstring)."""
    return Grid.study({name: lams for name, lams in config["lambdas"].items() if name in notebook()})


def benchmark(config: dict, device: str, reference_networks: int, sizes: list[int], gemm_size: int = 2048) -> dict:
    dev = pick_device(device)
    X, t = load_dataset(config["dataset"]["source"], config["dataset"]["target"])
    data, _ = split_data(X, t, 0, config["test_fraction"], config["label_noise"], config["validation_fraction"])
    grid = notebook_grid(config)
    steps, lr, hidden, init_scale = config["steps"], config["lr"], config["hidden"], config["init_scale"]
    load_before = os.getloadavg()[0]

    def point(size: int, compile_step: bool = True) -> dict:
        """Seconds per network of ``size`` networks trained together over every step;
        a first call of CUDA_UNROLL steps compiles the shape and is timed as compile."""
        g = scaled_grid(grid, size)
        start = time.perf_counter()
        train_grid(g, data, 0, hidden, CUDA_UNROLL, lr, init_scale, str(dev), compile_step=compile_step)
        compile_seconds = time.perf_counter() - start
        seconds = train_grid(g, data, 0, hidden, steps, lr, init_scale, str(dev), compile_step=compile_step).seconds
        print(f"  {size:6d} networks together: {seconds / size:.4f} s per network per {steps} steps "
              f"({seconds:.2f} s; first call {compile_seconds:.1f} s)", flush=True)
        return dict(networks=size, seconds_per_network=seconds / size, seconds=seconds,
                    compile_seconds=compile_seconds)

    flush = torch.set_flush_denormal(True)  # as the workflow's training jobs
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"{io.cpu_model()}, {torch.get_num_threads()} threads"
    wait_policy = os.environ.get("OMP_WAIT_POLICY")  # PASSIVE: OpenMP threads stop spinning on a busy machine
    print(f"{name}, torch {torch.__version__}, {steps} steps, load average {load_before:.2f}, "
          f"OMP_WAIT_POLICY {wait_policy or 'unset'}")
    print("fast path:" if dev.type == "cuda" else f"fast path (denormals flushed to zero: {flush}):", flush=True)
    # One seed's grid first: its first call pays the process's first compile, as a job does.
    fast = point(len(grid))
    roof = {}
    if dev.type == "cpu":
        # The roofline right after the fast path, under the same load and threads.
        gemm = gemm_rate(gemm_size)
        roof = dict(gemm_gflops=gemm["gflops"], gemm_size=gemm_size, gemm_seconds=gemm["seconds"],
                    **roofline(len(grid), hidden, X.shape[1], data["X_train"].shape[0], steps,
                               fast["seconds_per_network"], gemm))
        products = "; ".join(f"{name} {p['products']} × ({p['shape']}) {p['seconds'] * 1e6:.0f} µs "
                             f"({p['gflops']:.1f} GFLOP/s)" for name, p in roof["step_products"].items())
        print(f"roofline ({torch.get_num_threads()} threads): GEMM {gemm_size}² {roof['gemm_gflops']:.1f} GFLOP/s; "
              f"{products}", flush=True)
    scaling = sorted([fast, *(point(size) for size in sizes if size != len(grid))], key=lambda p: p["networks"])
    eager_graph = []
    if dev.type == "cuda":
        print("CUDA graph of uncompiled steps:", flush=True)
        eager_graph = [point(size, compile_step=False) for size in sizes]

    torch.set_flush_denormal(False)  # as the notebook runs
    models = NETWORKS[:reference_networks]
    lams = [config["notebook_lambdas"][PENALTY[m]] if m in PENALTY else 0.0 for m in models]
    each = {}
    for model, lam in zip(models, lams):
        start = time.perf_counter()
        train_reference(model, lam, data, 0, hidden, steps, lr, init_scale)
        each[model] = time.perf_counter() - start
    reference_seconds = sum(each.values()) / len(each)
    load_after = os.getloadavg()[0]
    ratio = reference_seconds / fast["seconds_per_network"]
    print(f"reference loop (notebook): {reference_seconds:.3f} s per network "
          f"({', '.join(f'{m} {s:.2f} s' for m, s in each.items())}; CPU, {torch.get_num_threads()} threads, "
          f"denormals kept)")
    print(f"batched fast path:         {fast['seconds_per_network']:.3f} s per network ({len(grid)} networks "
          f"together, {fast['compile_seconds']:.1f} s first call with compile)")
    print(f"ratio:                     {ratio:.1f}x   (load average {load_before:.2f} before, {load_after:.2f} after)")
    if roof:
        print(f"step's GEMM floor:         {roof['step_gemm_floor_seconds_per_network']:.3f} s per network "
              f"({roof['floor_fraction_of_peak']:.0%} of the GEMM rate); the fast path is "
              f"{roof['ratio_to_floor']:.2f}x the floor, {roof['fraction_of_peak']:.0%} of the GEMM rate")
    return dict(device=dev.type, device_name=name, cpu=io.cpu_model(), threads=torch.get_num_threads(),
                omp_wait_policy=wait_policy,
                torch=torch.__version__, date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                load_average=[load_before, load_after], steps=steps, networks=len(grid),
                unroll=CUDA_UNROLL if dev.type == "cuda" else 1, fast_flush_denormal=bool(flush),
                reference_networks=len(models), reference_lambdas=lams, reference_seconds=each, reference_flush_denormal=False,
                reference_seconds_per_network=reference_seconds,
                fast_seconds_per_network=fast["seconds_per_network"], compile_seconds=fast["compile_seconds"],
                ratio=ratio, scaling_steps=steps, scaling=scaling,
                **roof, **({"scaling_eager_graph": eager_graph} if eager_graph else {}))


def read_config(path: str, schema: str) -> dict:
    """The config, checked as the workflow checks it, as its first cell sees it (a sweep's
    first value of each swept key). The schema check runs through Snakemake; on a GPU
    machine without it (benchmarks/gpu_check.sh) the file is read as written and gets the
    cross-key checks alone."""
    if importlib.util.find_spec("snakemake"):
        return study_config.cell_config(study_config.load_config(path, schema))
    import yaml

    with open(path) as handle:
        config = yaml.safe_load(handle)
    study_config.check_config(config)
    return study_config.cell_config(config)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--reference-networks", type=int, default=3, choices=[1, 2, 3],
                        help="networks timed with the slow reference loop: nn, nn_frob, nn_mix (default 3)")
    parser.add_argument("--sizes", type=int, nargs="+", default=None,
                        help="numbers of networks trained together, each over the full steps (default: "
                             "1 4 16 29 64 on the CPU, 1 29 1024 on CUDA; one seed's grid is always added)")
    parser.add_argument("--gemm-size", type=int, default=2048,
                        help="side of the square float32 product that measures the GEMM rate (CPU; default 2048)")
    parser.add_argument("--out", default=None, help="JSON output (default: benchmarks/<device>.json)")
    study_config.add_config_arguments(parser)
    args = parser.parse_args(argv)
    config = read_config(args.config, args.schema)
    seed_grid = len(notebook_grid(config))
    sizes = args.sizes or ([1, 4, 16, 64] if args.device == "cpu" else [1, 1024])
    result = benchmark(config, args.device, args.reference_networks, sorted({*sizes, seed_grid}), args.gemm_size)
    out = args.out or os.path.join("benchmarks", f"{result['device']}.json")
    io.write_json(out, result)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
