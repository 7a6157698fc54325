"""Train one seed's scikit-learn baselines with their defaults, as the notebook does:
``RandomForestClassifier(random_state=seed)`` and the RBF ``SVC()``.

By hand:  python scripts/train_baselines.py --seed 0 --data results/data/seed0.npz --out results/seed0/baselines.csv
"""

import argparse

import numpy as np
import pandas as pd
from sklearn import ensemble, svm

from normbound import BASELINES, config, io

CLASSIFIERS = {
    "rf": lambda seed: ensemble.RandomForestClassifier(random_state=seed),
    "svc": lambda seed: svm.SVC(),
}


def train_baselines(data, seed, models):
    """Fit each baseline named in ``models``; one row each with train and test accuracy."""
    rows = []
    for name in (m for m in BASELINES if m in models):
        clf = CLASSIFIERS[name](seed).fit(data["X_train"], data["t_train"])
        rows.append(dict(seed=seed, model=name, lam=None, phase="after", selected=False,
                         train_acc=clf.score(data["X_train"], data["t_train"]),
                         train_acc_clean=clf.score(data["X_train"], data["t_train_clean"]),
                         test_acc=clf.score(data["X_test"], data["t_test"]), diverged=False))
    return pd.DataFrame(rows, columns=["seed", "model", "lam", "phase", "selected", "train_acc", "train_acc_clean", "test_acc",
                                       "diverged"])


def run(data_path, seed, out, settings):
    with np.load(data_path) as data:
        table = train_baselines(dict(data), seed, **settings)
    io.write_csv(table, out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--data", required=True, help="arrays from prepare_data.py")
    parser.add_argument("--out", required=True, help="output CSV")
    config.add_config_arguments(parser)
    args = parser.parse_args(argv)
    run(args.data, args.seed, args.out, config.settings_from_arguments(args, train_baselines))


if __name__ == "__main__":
    if "snakemake" in globals():
        io.setup_logging(snakemake.log[0])
        run(snakemake.input.data, int(snakemake.wildcards.seed), snakemake.output[0], snakemake.params.settings)
    else:
        main()
