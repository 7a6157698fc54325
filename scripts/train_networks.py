"""Train one seed's networks as one batched program and measure them.

On the whole training set: the unregularised network (``nn``) and every λ of each
penalty's grid (``nn_frob``, ``nn_mix``, and the comparators ``nn_spec``, ``nn_grad``). On
the fit part (training minus the hold-out validation part): every λ grid again, to choose
λ by validation accuracy. With ``validation_folds`` k >= 2, every λ grid trains once more
per fold (training minus that fold), and λ is chosen by the validation accuracy averaged
over the k folds; the hold-out choice is kept beside it, so the report can show what the
method changes. The comparators train in chunks of their own, after the others
(:func:`normbound.grid.own_chunk`). Ties in validation accuracy go to the lower
validation hinge loss, then to the larger λ (the simpler network).

Writes ``networks.csv`` (one row per network and phase before/after, every measurement a
column, ``selected`` true at the chosen λ), ``validation.csv`` (the fit networks'
validation scores), ``curves.csv`` and ``weights.npz``. A network whose objective became
NaN or infinite is kept with ``diverged`` true and the step it happened; the job goes on.
``converged`` says whether the network's training objective settled
(:func:`normbound.train.converged`, from its curve; false for a diverged network and on the
before-training rows, empty when no curves were recorded).
A violated bound chain (beyond float tolerance) fails the job: it would mean a bug.

Denormal floats are flushed to zero in this process: on Intel CPUs arithmetic on them
costs up to a hundred times more, and the mixed-norm penalty and Adam's moments drive many
values there (the report's notes on numerics say so).

By hand:  python scripts/train_networks.py --seed 0 --data /tmp/seed0.npz --networks /tmp/networks.csv \
              --validation /tmp/validation.csv --curves /tmp/curves.csv --weights /tmp/weights.npz
"""

import logging
import os

import numpy as np
import pandas as pd
import torch

from normbound import PENALTY, entry, io
from normbound.data import validation_parts
from normbound.grid import Grid
from normbound.summary import ties
from normbound.train import NoCudaError, pick_device, train_grid
from normbound.model import bound_violations

MEASURES = ("train_acc", "train_acc_clean", "test_acc", "train_loss", "test_loss", "grad", "grad_notebook", "grad_max",
            "mix_norm", "frob_bound", "spectral_bound")


def study_grid(models, lambdas, folds=1) -> Grid:
    """The networks that ``models`` asks for."""
    grid = Grid.study({name: lambdas[name] for model, name in PENALTY.items() if model in models}, folds)
    keep = [i for i, m in enumerate(grid.models) if m in models]
    return Grid(*([getattr(grid, f)[i] for i in keep] for f in ("models", "lams", "subsets")))


def train_seed(data, seed, models, hidden, init_scale, lr, steps, lambdas, curve_every, device,
               batch_size, compile, lr_schedule="constant", validation_folds=1, threads=None):
    """Train and measure; returns ``(networks, validation, curves, weights)``."""
    if threads:
        torch.set_num_threads(max(1, min(threads, os.cpu_count() or 1)))
    dev = pick_device(device)
    # On CUDA the K-step CUDA graph is captured uncompiled: measured on an H100 (benchmarks/
    # cuda.json), one seed's 29 networks × 10 000 steps took 0.35 s compiled after 14.5 s of
    # compiling, 1.27 s uncompiled after 0.13 s of capture; a job trains once, so the
    # uncompiled graph finishes first. On the CPU compiling pays within the job.
    compile_step = compile and dev.type == "cpu"
    grid = study_grid(models, lambdas, validation_folds)
    parts = validation_parts(len(data["t_train"]), validation_folds)
    rows, curves, weights = [], [], {"W": [], "b": []}
    for chunk in grid.chunks(batch_size):
        # A k-fold chunk leaves out, and is validated on, its own part of the training set.
        view = {**data, "is_validation": parts == chunk.held_out} if chunk.held_out else data
        result = train_grid(chunk, view, seed, hidden, steps, lr, init_scale, str(dev),
                            curve_every, compile_step, progress_seconds=20, lr_schedule=lr_schedule)
        diverged = result.diverged_step >= 0
        # Converged: by the training curve (normbound.train.converged), never where the
        # network diverged; before training, no network has; empty without curves.
        settled = None if result.converged is None else ~diverged & result.converged
        for phase, m in (("before", result.before), ("after", result.after)):
            ok = {k: np.where(diverged, np.nan, v) for k, v in m.items()} if phase == "after" else m
            bad = bound_violations(ok)
            if bad:
                raise RuntimeError(f"seed {seed}, {phase} training: bound chain violated:\n" + "\n".join(bad))
            for i in range(len(chunk)):
                rows.append(dict(seed=seed, model=chunk.models[i], lam=chunk.lams[i], subset=chunk.subsets[i],
                                 phase=phase, **{k: float(m[k][i]) for k in (*MEASURES, "val_acc", "val_loss")},
                                 diverged=bool(diverged[i]),
                                 diverged_step=int(result.diverged_step[i]) if diverged[i] else None,
                                 converged=None if settled is None else bool(phase == "after" and settled[i])))
        curves += [dict(seed=seed, **c) for c in result.curves]
        weights["W"].append(result.W.numpy())
        weights["b"].append(result.b.numpy())
    table = pd.DataFrame(rows)
    validation = choose_lambda(table[(table.subset != "train") & (table.phase == "after")])
    networks = table[table.subset == "train"].drop(columns=["subset", "val_acc", "val_loss"])
    chosen = set(zip(validation.model[validation.selected], validation.lam[validation.selected]))
    networks.insert(4, "selected", [(m, l) in chosen and p == "after"
                                    for m, l, p in zip(networks.model, networks.lam, networks.phase)])
    weights = dict(W=np.concatenate(weights["W"]), b=np.concatenate(weights["b"]),
                   model=np.array(grid.models), lam=np.array(grid.lams), subset=np.array(grid.subsets))
    return networks.reset_index(drop=True), validation, pd.DataFrame(curves), weights


KEYS = ["seed", "model", "lam"]


def choose_lambda(held_out: pd.DataFrame) -> pd.DataFrame:
    """λ per penalty from the networks that held data out (after training): by the
    hold-out part's validation scores ("fit" networks), or, where k-fold networks exist
    ("fold1" ... "foldk"), by their scores averaged over the folds, with the hold-out's
    scores and choice beside them as ``holdout_val_acc``, ``holdout_val_loss`` and
    ``holdout_selected``. A λ for which any of its networks diverged is not chosen."""
    holdout = select(held_out[held_out.subset == "fit"][[*KEYS, "val_acc", "val_loss", "diverged", "diverged_step"]])
    folds = held_out[held_out.subset.str.startswith("fold")]
    if folds.empty:
        return holdout
    mean = folds.groupby(KEYS, sort=False).agg(val_acc=("val_acc", "mean"), val_loss=("val_loss", "mean"),
                                                 diverged=("diverged", "any"), diverged_step=("diverged_step", "min"))
    beside = holdout[[*KEYS, "val_acc", "val_loss", "selected"]].rename(
        columns=lambda c: c if c in KEYS else f"holdout_{c}")
    return select(mean.reset_index()).merge(beside, on=KEYS, how="left", validate="one_to_one")


def select(scores: pd.DataFrame) -> pd.DataFrame:
    """``scores`` with ``selected`` true, per penalty, at the λ with the best validation
    accuracy among networks that did not diverge; ties go to the lower validation hinge
    loss, then to the larger λ (:func:`normbound.summary.ties`)."""
    out = scores.copy()
    out["selected"] = False
    for _, group in out[~out.diverged].groupby("model"):
        out.loc[group.loc[ties(group)["loss"], "lam"].idxmax(), "selected"] = True
    return out.reset_index(drop=True)


def write_outputs(networks, validation, curves, weights, paths):
    for frame, key in ((networks, "networks"), (validation, "validation"), (curves, "curves")):
        io.write_csv(frame, paths[key])
    io.write_npz(paths["weights"], weights)


def run(seeds, data, settings, threads=None, **paths):
    """The job, with denormals flushed to zero (see the module docstring): each of
    ``seeds`` trained in turn. A seed's job has one; a cell's job (config ``training_jobs:
    per_cell``) all of the cell's, in one process, so that they share its CUDA context and
    compiled steps, and each seed's files are those its own job would write. ``data`` and
    each of ``paths`` (the four outputs by name): a file per seed, in the order of ``seeds``."""
    torch.set_flush_denormal(True)
    for i, seed in enumerate(seeds):
        with np.load(data[i]) as npz:
            results = train_seed(dict(npz), seed, **settings, threads=threads)
        write_outputs(*results, {key: files[i] for key, files in paths.items()})


SCRIPT = entry.Script(
    __doc__, run,
    # A seed's job or a cell's (workflow/rules/train.smk): the seeds and a file of each kind per seed.
    seeds=entry.Arg(lambda smk, name: list(smk.params.seeds),
                    dict(help="the seeds, each its data's and its initialisation's", type=int, nargs="+", required=True),
                    flag="--seed"),
    data=entry.inp("arrays from prepare_data.py, one per seed", many=True),
    **{name: entry.out(f"output: {name}, one per seed", many=True) for name in ("networks", "validation", "curves",
                                                                               "weights")},
    settings=entry.stage_settings("networks"),
    threads=entry.threads(None, "torch threads (default: torch's)"),
)
main = SCRIPT.main

if __name__ == "__main__":
    try:
        SCRIPT.start(globals())
    except NoCudaError as err:
        # A setting that does not fit the machine, not a bug: one line, no stack trace.
        logging.getLogger("normbound").error("%s", err)
        raise SystemExit(f"NoCudaError: {err}") from None
