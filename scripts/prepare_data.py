"""Prepare one seed's data: the notebook's split, label noise and normalisation.

Writes the arrays (``.npz``) and a JSON sidecar recording the seed, the flipped indices,
the normalisation statistics and a SHA-256 of the raw data.

By hand:  python scripts/prepare_data.py --seed 0 --npz results/data/seed0.npz --json results/data/seed0.json
"""

import argparse
import os

import numpy as np

import normbound as nb


def prepare_data(seed, dataset, label_noise, test_fraction, validation_fraction, npz, json):
    """Split ``dataset`` for ``seed`` and write ``npz`` (arrays) and ``json`` (sidecar)."""
    source, target = dataset["source"], dataset["target"]
    X, t = nb.load_dataset(source, target)
    arrays, sidecar = nb.split_data(X, t, seed, test_fraction, label_noise, validation_fraction)
    sidecar.update(source=source, target=target, test_fraction=test_fraction,
                   validation_fraction=validation_fraction)
    os.makedirs(os.path.dirname(npz) or ".", exist_ok=True)
    nb.write_atomically(npz, lambda tmp: np.savez(tmp, **arrays))
    nb.write_json(json, sidecar)
    return arrays, sidecar


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--npz", required=True, help="output arrays")
    parser.add_argument("--json", required=True, help="output sidecar")
    parser.add_argument("--config", default="config.yaml", help="study config (default: config.yaml)")
    args = parser.parse_args(argv)
    settings = nb.stage_settings(nb.load_config(args.config), "data")
    prepare_data(args.seed, **settings, npz=args.npz, json=args.json)


if __name__ == "__main__":
    if "snakemake" in globals():
        nb.setup_logging(snakemake.log[0])
        prepare_data(int(snakemake.wildcards.seed), **snakemake.params.settings,
                     npz=snakemake.output.npz, json=snakemake.output.json)
    else:
        main()
