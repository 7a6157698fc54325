"""Prepare one seed's data: the notebook's split, label noise and normalisation.

Writes the arrays (``.npz``) and a JSON sidecar recording the seed, the flipped indices,
the normalisation statistics and a SHA-256 of the raw data. numpy only: no torch or
scikit-learn import, so the job takes well under a second.

By hand:  python scripts/prepare_data.py --seed 0 --npz /tmp/seed0.npz --json /tmp/seed0.json
"""

import argparse

from normbound import config, data, io


def prepare_data(seed, dataset, label_noise, test_fraction, validation_fraction, npz, json):
    """Split ``dataset`` for ``seed`` and write ``npz`` (arrays) and ``json`` (sidecar)."""
    source, target = dataset["source"], dataset["target"]
    X, t = data.load_dataset(source, target)
    arrays, sidecar = data.split_data(X, t, seed, test_fraction, label_noise, validation_fraction)
    sidecar.update(source=source, target=target, test_fraction=test_fraction,
                   validation_fraction=validation_fraction)
    io.write_npz(npz, arrays)
    io.write_json(json, sidecar)
    return arrays, sidecar


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--npz", required=True, help="output arrays")
    parser.add_argument("--json", required=True, help="output sidecar")
    config.add_config_arguments(parser)
    args = parser.parse_args(argv)
    prepare_data(args.seed, **config.settings_from_arguments(args, prepare_data), npz=args.npz, json=args.json)


if __name__ == "__main__":
    if "snakemake" in globals():
        io.setup_logging(snakemake.log[0])
        prepare_data(int(snakemake.wildcards.seed), **snakemake.params.settings,
                     npz=snakemake.output.npz, json=snakemake.output.json)
    else:
        main()
