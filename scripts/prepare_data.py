"""Prepare one seed's data: the notebook's split, label noise and normalisation.

Writes the arrays (``.npz``) and a JSON sidecar recording the seed, the flipped indices,
the normalisation statistics and a SHA-256 of the raw data. numpy only: no torch or
scikit-learn import, so the job takes well under a second.

By hand:  python scripts/prepare_data.py --seed 0 --npz /tmp/seed0.npz --json /tmp/seed0.json
"""

from normbound import data, entry, io


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


def run(seed, settings, npz, json):
    prepare_data(seed, **settings, npz=npz, json=json)


SCRIPT = entry.Script(
    __doc__, run,
    seed=entry.wildcard("the seed of the split, the noise and the initialisation"),
    settings=entry.stage_settings("data"),
    npz=entry.out("output arrays"),
    json=entry.out("output sidecar"),
)
main = SCRIPT.main

if __name__ == "__main__":
    SCRIPT.start(globals())
