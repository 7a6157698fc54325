"""Train one seed's scikit-learn baselines with their defaults, as the notebook does:
``RandomForestClassifier(random_state=seed)`` and the RBF ``SVC()``.

The SVC's fitted parameters (support vectors, dual coefficients, γ, intercept) are also
written as arrays (``--svc``), from which the robustness job evaluates its decision
function and gradient (:class:`normbound.robust.RBFMachine`): plain arrays, no pickle, so
that job neither imports scikit-learn nor depends on its version's object layout, and a
test checks the arrays give ``decision_function`` exactly.

By hand:  python scripts/train_baselines.py --seed 0 --data results/data/noise0.04/seed0.npz \\
              --out /tmp/baselines.csv --svc /tmp/svc.npz
"""

import numpy as np
import pandas as pd
from sklearn import ensemble, svm

from normbound import BASELINES, entry, io

CLASSIFIERS = {
    "rf": lambda seed: ensemble.RandomForestClassifier(random_state=seed),
    "svc": lambda seed: svm.SVC(),
}


def fit(data, seed, models) -> dict:
    """Each baseline named in ``models``, fitted on the (noisy) training set, by name."""
    return {name: CLASSIFIERS[name](seed).fit(data["X_train"], data["t_train"]) for name in BASELINES if name in models}


def scores(fitted: dict, data, seed) -> pd.DataFrame:
    """One row per fitted baseline with its train and test accuracy."""
    rows = [dict(seed=seed, model=name, lam=None, phase="after", selected=False,
                 train_acc=clf.score(data["X_train"], data["t_train"]),
                 train_acc_clean=clf.score(data["X_train"], data["t_train_clean"]),
                 test_acc=clf.score(data["X_test"], data["t_test"]), diverged=False)
            for name, clf in fitted.items()]
    return pd.DataFrame(rows, columns=["seed", "model", "lam", "phase", "selected", "train_acc", "train_acc_clean",
                                       "test_acc", "diverged"])


def train_baselines(data, seed, models) -> pd.DataFrame:
    """Fit each baseline named in ``models``; one row each with train and test accuracy."""
    return scores(fit(data, seed, models), data, seed)


def svc_arrays(svc) -> dict:
    """An RBF SVC's decision function as arrays: F(x) = Σ_i coef_i exp(−gamma‖x − support_i‖²)
    + intercept, positive for the class +1 (``classes_`` sorted: [−1, 1]). ``_gamma`` is
    the γ that ``gamma="scale"`` resolved to at fitting time."""
    return dict(support=svc.support_vectors_, coef=svc.dual_coef_[0], gamma=np.float64(svc._gamma),
                intercept=np.float64(svc.intercept_[0]))


def run(data, seed, out, settings, svc=None):
    """Write the table, and the SVC's arrays to ``svc`` when the SVC was trained."""
    with np.load(data) as npz:
        arrays = dict(npz)
    fitted = fit(arrays, seed, **settings)
    io.write_csv(scores(fitted, arrays, seed), out)
    if svc:
        io.write_npz(svc, svc_arrays(fitted["svc"]))


SCRIPT = entry.Script(
    __doc__, run,
    data=entry.inp("arrays from prepare_data.py"),
    seed=entry.wildcard("the data's seed, and the random forest's"),
    out=entry.out("output CSV", "table"),
    svc=entry.out("output: the SVC's arrays (.npz), when the config trains it", optional=True),
    settings=entry.stage_settings("baselines"),
)
main = SCRIPT.main

if __name__ == "__main__":
    SCRIPT.start(globals())
