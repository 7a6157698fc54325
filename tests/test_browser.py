"""The HTML report in a real browser (Debian's chromium driven by Playwright): no console
or page error, no request leaving the file, every image decoded, and the comparison tables
on the page equal to the aggregation of results/metrics.csv computed here."""

import math
import os

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from helpers import REPO, require_program
from normbound import PENALTY

pytestmark = pytest.mark.slow

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = os.path.join(REPO, "tests", "artifacts")
COLUMNS = ["train_acc", "test_acc", "grad", "grad_notebook", "mix_norm", "spectral_bound", "frob_bound"]
# Quantities of the weights, which the report never averages over different λ.
PER_LAMBDA = ["grad", "grad_notebook", "mix_norm", "spectral_bound", "frob_bound"]


def fmt(x):
    return "—" if not math.isfinite(x) else f"{x:.3f}"


def corrected(x, test_over_train):
    """The corrected resampled t interval (Nadeau and Bengio) of the mean of the shares x,
    computed here with scipy.stats, apart from the package's code."""
    half = stats.t.ppf(0.975, len(x) - 1) * math.sqrt(1 / len(x) + test_over_train) * x.std(ddof=1)
    return [max(x.mean() - half, 0), min(x.mean() + half, 1)]  # a share: cut to [0, 1]


def summary(x, column, test_over_train):
    """What a cell shows: the value; or mean and sd; and for an accuracy over at least three
    seeds its interval."""
    x = x.dropna().to_numpy()
    if len(x) == 0:
        return ["—"]
    if len(x) == 1:
        return [fmt(x[0])]
    interval = corrected(x, test_over_train) if column.endswith("acc") and len(x) >= 3 else []
    return [fmt(x.mean()), fmt(x.std(ddof=1)), *map(fmt, interval)]


def expected_table(metrics, lams, chosen, test_over_train):
    """Mean, std and the accuracies' corrected interval per table row and column, written
    independently of tables.py: a model whose seeds chose different λ gets its accuracies
    over every seed, and a row per λ (``model@λ``) with everything."""
    after = metrics[(metrics["phase"] == "after") & ~metrics["diverged"] & metrics["converged"].fillna(True).astype(bool)]
    penalised = after["selected"] if chosen else (
        ((after["model"] == "nn_frob") & np.isclose(after["lam"], lams["frob"]))
        | ((after["model"] == "nn_mix") & np.isclose(after["lam"], lams["mix"])))
    # The chosen-λ table lists every penalised model; the notebook's, its two penalties.
    shown = list(PENALTY) if chosen else ["nn_frob", "nn_mix"]
    rows = after[after["model"].isin(["rf", "svc", "nn"]) | (penalised & after["model"].isin(shown))]
    out = {}
    for model, part in rows.groupby("model"):
        several = part["lam"].nunique() > 1
        for column in COLUMNS:
            out[model, column] = ["—"] if several and column in PER_LAMBDA else summary(part[column], column,
                                                                                         test_over_train)
        if several:
            for lam, one in part.groupby("lam"):
                for column in COLUMNS:
                    out[f"{model}@{lam:g}", column] = summary(one[column], column, test_over_train)
    return out


READ_TABLE = """table => Array.from(table.querySelectorAll('tbody tr[data-model], tbody tr[data-lam]')).flatMap(tr =>
  Array.from(tr.querySelectorAll('td[data-metric]')).map(td => {
    const parts = ['.mean', '.std', '.ci-low', '.ci-high'].map(s => td.querySelector(s)).filter(e => e);
    const row = tr.dataset.model || `${tr.dataset.parent}@${tr.dataset.lam}`;
    return [row, td.dataset.metric, parts.length ? parts.map(e => e.textContent) : [td.textContent.trim()]];
  }))"""
READ_REFERENCE = """table => Array.from(table.querySelectorAll('tbody tr[data-reference-of]')).flatMap(tr =>
  Array.from(tr.querySelectorAll('td[data-reference]')).map(td => [tr.dataset.referenceOf, td.dataset.reference, td.textContent]))"""


def test_report_in_chromium(small_study, tmp_path):
    chromium = require_program("chromium", "apt-get install --no-install-recommends chromium")
    from playwright.sync_api import sync_playwright

    html = small_study / "results" / "report" / "report.html"
    metrics = pd.read_csv(small_study / "results" / "metrics.csv")
    with open(os.path.join(REPO, "config.yaml")) as handle:
        defaults = yaml.safe_load(handle)
    lams = defaults["notebook_lambdas"]
    test_over_train = defaults["test_fraction"] / (1 - defaults["test_fraction"])
    # The notebook's Grad is the unpooled variant: it belongs under grad_notebook only.
    notebook_column = {"grad_notebook": "grad", "grad": None, "spectral_bound": None}
    with open(os.path.join(REPO, "report", "notebook_reference.yaml")) as handle:
        printed = {(r["model"], c): fmt(r.get(notebook_column.get(c, c), math.nan)) for r in yaml.safe_load(handle)["rows"]
                   if r["phase"] == "after" for c in COLUMNS}
    errors, requests = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, env={**os.environ, "HOME": str(tmp_path)})
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda msg: errors.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
        page.on("request", lambda req: requests.append(req.url) if not req.url.startswith(("file:", "data:")) else None)
        page.goto(html.as_uri(), wait_until="load")
        images = page.eval_on_selector_all("img", "imgs => imgs.map(i => [i.alt, i.complete, i.naturalWidth])")
        tables = {which: page.eval_on_selector(f"#comparison-{which}", READ_TABLE) for which in ("notebook", "chosen")}
        reference = page.eval_on_selector("#comparison-notebook", READ_REFERENCE)
        os.makedirs(ARTIFACTS, exist_ok=True)
        page.screenshot(path=os.path.join(ARTIFACTS, "report.png"), full_page=True)
        browser.close()

    assert errors == [] and requests == []
    assert len(images) >= 6 and all(done and width > 0 for _, done, width in images), images
    for which, chosen in (("notebook", False), ("chosen", True)):
        on_page = {(model, metric): values for model, metric, values in tables[which]}
        assert on_page == expected_table(metrics, lams, chosen, test_over_train), which
    assert {(model, metric): value for model, metric, value in reference} == {
        key: value for key, value in printed.items() if key[0] in set(metrics["model"])}
