"""Train one seed's networks as one batched program and measure them.

On the whole training set: the unregularised network (``nn``) and every λ of both
penalty grids (``nn_frob``, ``nn_mix``). On the fit part (training minus validation): both
λ grids again, to choose λ by validation accuracy. Ties in validation accuracy go to the
lower validation hinge loss, then to the larger λ (the simpler network).

Writes ``networks.csv`` (one row per network and phase before/after, every measurement a
column, ``selected`` true at the chosen λ), ``validation.csv`` (the fit networks'
validation scores), ``curves.csv`` and ``weights.npz``. A network whose objective became
NaN or infinite is kept with ``diverged`` true and the step it happened; the job goes on.
A violated bound chain (beyond float tolerance) fails the job: it would mean a bug.

By hand:  python scripts/train_networks.py --seed 0 --data results/data/seed0.npz --outdir results/seed0
"""

import argparse
import os

import numpy as np
import pandas as pd
import torch

import normbound as nb

MEASURES = ("train_acc", "test_acc", "train_loss", "test_loss", "grad", "grad_notebook", "grad_max",
            "mix_norm", "frob_bound", "spectral_bound")


def study_grid(models, lambdas) -> nb.Grid:
    """The networks that ``models`` asks for."""
    frob = lambdas["frob"] if "nn_frob" in models else []
    mix = lambdas["mix"] if "nn_mix" in models else []
    grid = nb.Grid.study(frob, mix)
    keep = [i for i, m in enumerate(grid.models) if m in models]
    return nb.Grid(*([getattr(grid, f)[i] for i in keep] for f in ("models", "lams", "subsets")))


def train_seed(data, seed, models, hidden, init_scale, lr, steps, lambdas, curve_every, device,
               batch_size, compile, threads=None):
    """Train and measure; returns ``(networks, validation, curves, weights)``."""
    if threads:
        torch.set_num_threads(max(1, min(threads, os.cpu_count() or 1)))
    dev = nb.pick_device(device)
    grid = study_grid(models, lambdas)
    rows, curves, weights = [], [], {"W": [], "b": []}
    for chunk in grid.chunks(batch_size):
        result = nb.train_grid(chunk, data, seed, hidden, steps, lr, init_scale, str(dev),
                               curve_every, compile, progress_seconds=20)
        diverged = result.diverged_step >= 0
        for phase, m in (("before", result.before), ("after", result.after)):
            ok = {k: np.where(diverged, np.nan, v) for k, v in m.items()} if phase == "after" else m
            bad = nb.bound_violations(ok)
            if bad:
                raise RuntimeError(f"seed {seed}, {phase} training: bound chain violated:\n" + "\n".join(bad))
            for i in range(len(chunk)):
                rows.append(dict(seed=seed, model=chunk.models[i], lam=chunk.lams[i], subset=chunk.subsets[i],
                                 phase=phase, **{k: float(m[k][i]) for k in (*MEASURES, "val_acc", "val_loss")},
                                 diverged=bool(diverged[i]),
                                 diverged_step=int(result.diverged_step[i]) if diverged[i] else None))
        curves += [dict(seed=seed, **c) for c in result.curves]
        weights["W"].append(result.W.numpy())
        weights["b"].append(result.b.numpy())
    table = pd.DataFrame(rows)
    validation = choose_lambda(table[(table.subset == "fit") & (table.phase == "after")])
    networks = table[table.subset == "train"].drop(columns=["subset", "val_acc", "val_loss"])
    chosen = set(zip(validation.model[validation.chosen], validation.lam[validation.chosen]))
    networks.insert(4, "selected", [(m, l) in chosen and p == "after"
                                    for m, l, p in zip(networks.model, networks.lam, networks.phase)])
    weights = dict(W=np.concatenate(weights["W"]), b=np.concatenate(weights["b"]),
                   model=np.array(grid.models), lam=np.array(grid.lams), subset=np.array(grid.subsets))
    return networks.reset_index(drop=True), validation, pd.DataFrame(curves), weights


def choose_lambda(fit: pd.DataFrame) -> pd.DataFrame:
    """Per penalty, the λ with the best validation accuracy among networks that did not
    diverge; ties go to the lower validation hinge loss, then to the larger λ."""
    out = fit[["seed", "model", "lam", "val_acc", "val_loss", "diverged", "diverged_step"]].copy()
    out["chosen"] = False
    for _, group in out[~out.diverged].groupby("model"):
        best = group.sort_values(["val_acc", "val_loss", "lam"], ascending=[False, True, False]).index[0]
        out.loc[best, "chosen"] = True
    return out.reset_index(drop=True)


def write_outputs(networks, validation, curves, weights, paths):
    for frame, key in ((networks, "networks"), (validation, "validation"), (curves, "curves")):
        nb.write_csv(frame, paths[key])
    nb.write_atomically(paths["weights"], lambda tmp: np.savez(tmp, **weights))


def run(data_path, seed, paths, settings, threads=None):
    with np.load(data_path) as data:
        results = train_seed(dict(data), seed, **settings, threads=threads)
    write_outputs(*results, paths)


def output_paths(outdir):
    return {k: os.path.join(outdir, f"{k}.{ext}") for k, ext in
            (("networks", "csv"), ("validation", "csv"), ("curves", "csv"), ("weights", "npz"))}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--data", required=True, help="arrays from prepare_data.py")
    parser.add_argument("--outdir", required=True, help="folder for the four outputs")
    parser.add_argument("--config", default="config.yaml", help="study config (default: config.yaml)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args(argv)
    nb.setup_logging()
    os.makedirs(args.outdir, exist_ok=True)
    settings = nb.stage_settings(nb.load_config(args.config), "networks")
    run(args.data, args.seed, output_paths(args.outdir), settings, args.threads)


if __name__ == "__main__":
    if "snakemake" in globals():
        nb.setup_logging(snakemake.log[0])
        run(snakemake.input.data, int(snakemake.wildcards.seed), dict(snakemake.output.items()),
            snakemake.params.settings, snakemake.threads)
    else:
        main()
