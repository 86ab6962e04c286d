"""The equal-budget comparison (issue 19): real-file quality of shipped checkpoints against CPU-hours.

Each shipped checkpoint of the two families -- recurrent (``rnncomp-default*``, Toderici et al.
2017) and hyperprior (``hyperprior-default*``, Ballé et al. 2018) -- is one point: its training
hours (``train_seconds_recorded`` of its ``training.json``: wall seconds inside training steps,
cumulative over resumes and forks, validation excluded) against the quality of its **real files**
on a dataset, read from the result files that ``make evaluate`` / ``make evaluate-thumbs`` /
``make evaluate-hyperprior`` wrote:

* Kodak (``kodak/<name>-auto.json``, or ``kodak/<name>.json`` for the hyperprior, whose only
  coder is ``auto``) against Pillow JPEG (``kodak/jpeg-pillow.json``);
* the 1,000 hold-out 32x32 thumbnails, header-less files (``thumbs32/<name>-auto-headerless.json``)
  against header-less JPEG (``thumbs32/jpeg-headerless.json``).

Quality, per dataset: the BD-rates of PSNR and of MS-SSIM in dB against the reference (PCHIP over
the qualities both curves reach within ``bpp_range``, 0.125-1 bpp by default:
:func:`rnncomp.evaluation.evaluate.compare`, the numbers of ``kodak/bd-*.md``), and the RD-AUC
(mean PSNR, mean MS-SSIM: :func:`rnncomp.evaluation.rd.rd_auc`) over the bpp range that every
compared curve covers (within ``bpp_range``).

"What the next doubling of CPU would buy": from each family's best checkpoint on a metric (the
last point of its frontier, the best the family had reached by that many hours), a straight line
in log-hours carried to twice its hours. The slope is fitted through the last ``fit_last``
checkpoints of one model design (:func:`slope_points`): a slope across designs would credit a
design change to hours. BD-rates are fitted as ``log(1 + BD)`` (the mean log-rate ratio the
BD-rate exponentiates, so the line cannot pass -100 %), MS-SSIM in dB, PSNR as is. It is an
extrapolation from two or three checkpoints, not a fit of a scaling law
(:mod:`rnncomp.training.scaling` fits those from validation logs, whose crops differ between the
runs compared here); each line states its caveats (a borrowed slope, changed training data, hours
timed from steps).

``rnncomp equal-budget --out experiments/results/equal-budget`` (``make equal-budget``) writes
``equal-budget.{json,md,png}``. Reads JSON and draws; no TensorFlow.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from rnncomp.errors import RnncompError
from rnncomp.evaluation.metrics import ms_ssim_db

__all__ = ["BPP_RANGE", "DATASETS", "FAMILIES", "Dataset", "default_models", "extrapolate", "family_of",
           "frontier", "result_file", "slope_points", "study", "training_budget"]

#: Family name -> the prefix of its shipped models' names.
FAMILIES = {"recurrent": "rnncomp-default", "hyperprior": "hyperprior-default"}
#: The rate range of the BD-rates (as in ``experiments/results/kodak/bd-*.md``).
BPP_RANGE = (0.125, 1.0)


@dataclass(frozen=True)
class Dataset:
    """Where a dataset's result files are and what they are compared against."""

    key: str
    title: str
    folder: str  # under the results folder
    reference: str  # the reference codec's result file (without .json)
    patterns: tuple[str, ...]  # a model's result file, first match wins

    def reference_file(self, results: Path) -> Path:
        return results / self.folder / f"{self.reference}.json"


DATASETS = (
    Dataset("kodak", "Kodak (24 images), real files vs Pillow JPEG", "kodak", "jpeg-pillow",
            ("{name}-auto.json", "{name}.json")),
    Dataset("thumbs", "1,000 hold-out 32x32 thumbnails, header-less files vs header-less JPEG", "thumbs32",
            "jpeg-headerless", ("{name}-auto-headerless.json",)),
)
_METRICS = (  # key, label, lower is better, how it is extrapolated
    ("bd_rate_psnr", "BD-rate PSNR", True, "bd"),
    ("bd_rate_ms-ssim-db", "BD-rate MS-SSIM (dB)", True, "bd"),
    ("auc_psnr", "AUC PSNR (dB)", False, "linear"),
    ("auc_ms-ssim", "AUC MS-SSIM", False, "ms-ssim"),
)
_COLOURS = {"recurrent": "tab:blue", "hyperprior": "tab:red"}


def family_of(name: str) -> str:
    """``recurrent`` or ``hyperprior`` from a shipped model's name (its prefix)."""
    for family, prefix in FAMILIES.items():
        if name == prefix or name.startswith(prefix + "-"):
            return family
    raise RnncompError(f"{name}: not a model of the compared families (names start with "
                       f"{' or '.join(FAMILIES.values())})")


def result_file(results, dataset: Dataset, name: str) -> Path | None:
    """The model's result file for ``dataset``, or None when there is none."""
    for pattern in dataset.patterns:
        p = Path(results) / dataset.folder / pattern.format(name=name)
        if p.is_file():
            return p
    return None


def _missing(results, dataset: Dataset, name: str) -> str:
    tried = ", ".join(str(Path(results) / dataset.folder / p.format(name=name)) for p in dataset.patterns)
    return f"{name}: no {dataset.key} result (looked for {tried})"


def default_models(weights, results) -> tuple[list[str], list[str]]:
    """Every shipped model of the two families whose Kodak result exists, and why others were left out."""
    weights = Path(weights)
    names, skipped = [], []
    candidates = sorted(p.name for p in weights.iterdir() if (p / "training.json").is_file()) if weights.is_dir() else []
    for name in candidates:
        try:
            family_of(name)
        except RnncompError:
            continue
        if result_file(results, DATASETS[0], name) is None:
            skipped.append(_missing(results, DATASETS[0], name))
        else:
            names.append(name)
    return names, skipped


def _as_dict(value) -> dict:
    if isinstance(value, dict):
        return value
    if isinstance(value, str):  # some training.json files store the dict's repr
        try:
            parsed = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def _shown(path: Path) -> str:
    """``path`` relative to the working directory where it is inside it (no home folders in result files)."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def training_budget(weights, name: str, seconds_per_step: float | None = None) -> dict:
    """A shipped model's training hours from its ``training.json`` (or from its steps, where asked).

    ``seconds_per_step`` replaces the recorded clock (for a run whose clock restarted at resumes).
    """
    path = Path(weights) / name / "training.json"
    if not path.is_file():
        raise RnncompError(f"{name}: no {path} (not a shipped model?)")
    try:
        doc = json.loads(path.read_text())
        step = int(doc["step"])
        recorded = float(doc["train_seconds_recorded"])
    except (ValueError, KeyError, TypeError) as e:
        raise RnncompError(f"{path}: no step / train_seconds_recorded ({e})") from None
    experiment = _as_dict(doc.get("experiment"))
    machine = _as_dict(doc.get("machine"))
    seconds = recorded if seconds_per_step is None else step * seconds_per_step
    return {
        "name": name, "family": family_of(name), "step": step,
        "recorded_hours": recorded / 3600, "hours": seconds / 3600,
        "timed": "recorded" if seconds_per_step is None else f"from steps at {seconds_per_step:g} s/step",
        "machine": {k: machine.get(k) for k in ("cpu", "cores", "date") if k in machine},
        "run": experiment.get("name"), "model_config": experiment.get("model"), "data_config": experiment.get("data"),
        "training_json": _shown(path),
    }


def _span(doc: dict) -> tuple[float, float]:
    bpp = np.asarray(doc["results"]["bpp"], np.float64)
    return float(bpp.min()), float(bpp.max())


def _quality(doc: dict, reference, bpp_range, auc_range) -> dict:
    from rnncomp.evaluation import rd
    from rnncomp.evaluation.evaluate import compare

    row = compare(doc, [reference], bpp_range)[0]
    lo, hi = _span(doc)
    out = {
        "bd_rate_psnr": row.get("bd_rate_psnr"), "bd_rate_ms-ssim-db": row.get("bd_rate_ms-ssim-db"),
        "rates_compared": row.get("bpp_range"), "curve_bpp": [round(lo, 4), round(hi, 4)],
        "covers_bpp_range": bool(lo <= bpp_range[0] + 1e-9 and hi >= bpp_range[1] - 1e-9),
    }
    for label in ("psnr", "ms-ssim-db"):
        if row.get(f"error_{label}"):
            out[f"error_{label}"] = row[f"error_{label}"]
    r = doc["results"]
    if auc_range is None:
        out["auc_psnr"] = out["auc_ms-ssim"] = None
    else:
        out["auc_psnr"] = rd.rd_auc(r["bpp"], r["psnr-rgb"], auc_range)
        out["auc_ms-ssim"] = rd.rd_auc(r["bpp"], r["ms-ssim-rgb"], auc_range)
    return out


def _load(path: Path) -> dict:
    try:
        doc = json.loads(Path(path).read_text())
        doc["results"]["bpp"], doc["results"]["psnr-rgb"], doc["results"]["ms-ssim-rgb"]
    except (ValueError, KeyError, TypeError) as e:
        raise RnncompError(f"{path}: not a result file with bpp, psnr-rgb and ms-ssim-rgb ({e})") from None
    return doc


def frontier(points: Sequence[dict], key: str, lower_is_better: bool) -> list[dict]:
    """The points (sorted by hours) that beat every point with fewer hours on ``key``."""
    best, out = None, []
    for p in sorted((p for p in points if p.get(key) is not None), key=lambda p: p["hours"]):
        v = p[key]
        if best is None or (v < best if lower_is_better else v > best):
            best = v
            out.append(p)
    return out


_TO = {"bd": lambda v: np.log1p(np.asarray(v, float) / 100.0), "linear": lambda v: np.asarray(v, float),
       "ms-ssim": ms_ssim_db}
_FROM = {"bd": lambda u: float(np.expm1(u) * 100.0), "linear": float,
         "ms-ssim": lambda u: float(1.0 - 10.0 ** (-u / 10.0))}


def extrapolate(hours, values, kind: str = "linear", anchor: tuple[float, float] | None = None) -> dict | None:
    """A least-squares line of ``values`` in log2(hours), carried one doubling past its last hours.

    ``kind``: ``linear`` (dB), ``bd`` (percent; fitted as log(1 + BD)), ``ms-ssim`` (fitted in dB).
    ``anchor`` = (hours, value): carry the fitted slope from this point instead of from the line's
    value at its last hours. None with fewer than 2 points or only one distinct hour count.
    """
    h = np.asarray(hours, np.float64)
    if h.size < 2 or np.ptp(np.log2(h)) <= 0:
        return None
    x, u = np.log2(h), _TO[kind](values)
    slope, intercept = np.polyfit(x, u, 1)
    t = float(h.max()) if anchor is None else float(anchor[0])
    now = intercept + slope * np.log2(t) if anchor is None else float(_TO[kind](anchor[1]))
    later = now + slope
    return {"from_hours": t, "to_hours": 2 * t, "fitted_now": _FROM[kind](now),
            "extrapolated": _FROM[kind](later), "per_doubling": _FROM[kind](later) - _FROM[kind](now),
            "slope_fitted": float(slope), "fitted_in": {"bd": "log(1 + BD-rate)", "linear": "dB",
                                                       "ms-ssim": "MS-SSIM dB"}[kind]}


def _design(p: dict) -> str:
    return json.dumps(p["model_config"], sort_keys=True)


def slope_points(points: Sequence[dict], anchor: dict, key: str, fit_last: int = 2) -> list[dict]:
    """The checkpoints a family's slope rests on: the last ``fit_last`` (0: all) of one design, by hours.

    The design (``experiment.model`` of ``training.json``) is the anchor's when it has 2 or more
    checkpoints with ``key``; otherwise the family's other design with 2 or more whose last
    checkpoint has the most hours (the slope is then borrowed); none if no design has two.
    A slope across designs would credit a design change to hours.
    """
    groups: dict[str, list[dict]] = {}
    for p in sorted((p for p in points if p.get(key) is not None), key=lambda p: p["hours"]):
        groups.setdefault(_design(p), []).append(p)
    chosen = groups.get(_design(anchor), [])
    if len(chosen) < 2:
        others = [g for g in groups.values() if len(g) >= 2]
        if not others:
            return []
        chosen = max(others, key=lambda g: g[-1]["hours"])
    return chosen[-fit_last:] if fit_last else chosen


def _caveats(used: Sequence[dict], anchor: dict) -> list[str]:
    notes = []
    if anchor["name"] not in {p["name"] for p in used}:
        notes.append(f"slope borrowed from an earlier design of the family ({', '.join(p['name'] for p in used)}); "
                     f"{anchor['name']} is its own design's only checkpoint")
    if len({json.dumps(p["data_config"], sort_keys=True) for p in used}) > 1:
        notes.append("the training data changed between the slope's checkpoints (experiment.data differs)")
    timed = [p["name"] for p in list(used) + [anchor] if p["timed"] != "recorded"]
    if timed:
        notes.append(f"hours of {', '.join(dict.fromkeys(timed))} timed from steps")
    return notes


def _fmt(v, spec=".2f", suffix=""):
    return "n/a" if v is None else f"{v:{spec}}{suffix}"


def study(names: Sequence[str] | None, results, weights, out_dir, bpp_range=BPP_RANGE, step_seconds=None,
          notes=None, fit_last: int = 2, command: str = "") -> dict:
    """The comparison for ``names`` (default: :func:`default_models`); writes the report into ``out_dir``.

    Args:
      names: shipped model names; each needs its ``training.json`` and its Kodak result (a
        missing thumbnail result leaves that model's thumbnail cells empty).
      results: the results folder (``experiments/results``).
      weights: the shipped models' folder (``rnncomp/weights``).
      bpp_range: the BD-rates' rate range (and the bound of the common AUC range).
      step_seconds: name -> seconds per step, replacing a recorded clock known to be wrong.
      notes: name -> a note for the table (e.g. hours partly run at reduced CPU).
      fit_last: points of each family's frontier the extrapolation rests on (0: all).
    """
    results, weights = Path(results), Path(weights)
    step_seconds, notes = dict(step_seconds or {}), dict(notes or {})
    skipped: list[str] = []
    if names is None:
        names, skipped = default_models(weights, results)
        if not names:
            raise RnncompError(f"no shipped {' or '.join(FAMILIES.values())}* model in {weights} has a Kodak "
                               f"result in {results / DATASETS[0].folder}" + (": " + "; ".join(skipped) if skipped else ""))
    names = list(dict.fromkeys(names))
    for name in list(step_seconds) + list(notes):
        if name not in names:
            raise RnncompError(f"--step-seconds/--note name {name!r} is not among the compared models ({', '.join(names)})")
    rows = [training_budget(weights, n, step_seconds.get(n)) for n in names]
    for r in rows:
        r["note"] = notes.get(r["name"], "")
    from rnncomp.evaluation.plot import load_curve

    per_dataset = {}
    for ds in DATASETS:
        ref_path = ds.reference_file(results)
        if not ref_path.is_file():
            raise RnncompError(f"{ds.key}: no reference result {ref_path}")
        reference = load_curve(ref_path)
        docs = {}
        for r in rows:
            path = result_file(results, ds, r["name"])
            if path is None:
                if ds is DATASETS[0]:
                    raise RnncompError(_missing(results, ds, r["name"]) + " (make evaluate / evaluate-hyperprior)")
                skipped.append(_missing(results, ds, r["name"]))
                continue
            docs[r["name"]] = (path, _load(path))
        spans = [_span(d) for _, d in docs.values()]
        lo = max([bpp_range[0]] + [s[0] for s in spans])
        hi = min([bpp_range[1]] + [s[1] for s in spans])
        auc_range = (lo, hi) if spans and lo < hi else None
        points = []
        for r in rows:
            if r["name"] not in docs:
                continue
            path, doc = docs[r["name"]]
            points.append({**r, "result": str(path), **_quality(doc, reference, bpp_range, auc_range)})
        ref_auc = None
        if auc_range is not None:
            from rnncomp.evaluation import rd

            try:
                ref_auc = {"auc_psnr": rd.rd_auc(*reference.get("psnr-rgb"), auc_range),
                           "auc_ms-ssim": rd.rd_auc(*reference.get("ms-ssim-rgb"), auc_range)}
            except RnncompError as e:
                ref_auc = {"error": str(e)}
        fits = {}
        for family in FAMILIES:
            mine = [p for p in points if p["family"] == family]
            fits[family] = {}
            for key, _, lower, kind in _METRICS:
                front = frontier(mine, key, lower)
                if not front:
                    fits[family][key] = {"frontier": [], "anchor": None, "fit_on": [], "fit": None, "caveats": []}
                    continue
                anchor = front[-1]
                used = slope_points(mine, anchor, key, fit_last)
                fit = extrapolate([p["hours"] for p in used], [p[key] for p in used], kind,
                                  anchor=(anchor["hours"], anchor[key])) if used else None
                fits[family][key] = {"frontier": [p["name"] for p in front], "anchor": anchor["name"],
                                     "fit_on": [p["name"] for p in used], "fit": fit,
                                     "caveats": _caveats(used, anchor) if fit else []}
        shown = [{k: v for k, v in p.items() if k not in ("model_config", "data_config", "machine", "training_json")}
                 for p in points]  # those are in doc["models"]
        per_dataset[ds.key] = {"title": ds.title, "reference": str(ref_path), "auc_bpp": list(auc_range) if auc_range else None,
                               "reference_auc": ref_auc, "points": shown, "extrapolation": fits}
    from rnncomp.provenance import machine_info

    doc = {"command": command, "bpp_range": list(bpp_range), "fit_last": fit_last,
           "hours": "wall hours inside training steps (training.json train_seconds_recorded; cumulative over "
                    "resumes and forks; validation excluded), unless timed from steps",
           "machines": sorted({f"{r['machine'].get('cpu')}, {r['machine'].get('cores')} cores" for r in rows}),
           "models": rows, "datasets": per_dataset, "skipped": skipped, "made_on": machine_info()}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "equal-budget.json").write_text(json.dumps(doc, indent=1) + "\n")
    (out_dir / "equal-budget.md").write_text(_markdown(doc))
    _plot(doc, out_dir / "equal-budget.png")
    return doc


def _markdown(doc: dict) -> str:
    lo, hi = doc["bpp_range"]
    lines = [
        "# Equal budget: quality of real files against training CPU-hours (issue 19)", "",
        "Each row is a shipped checkpoint. **CPU-hours** are wall hours of training on the machine in its "
        f"`training.json` ({'; '.join(doc['machines'])}): `train_seconds_recorded`, the seconds inside training "
        "steps, cumulative over resumes and forks, validation excluded (where a row says *from steps*, its "
        "recorded clock is replaced by steps x seconds per step; the recorded hours are shown beside). "
        "Quality is read from the real-file result files (`make evaluate`, `make evaluate-thumbs`, `make "
        "evaluate-hyperprior`; the recurrent models' `auto` coder, what users get): BD-rates against the "
        f"reference codec (PCHIP over the qualities both curves reach within {lo:g}-{hi:g} bpp, as in "
        "`kodak/bd-*.md`; negative = fewer bits than the reference), and the RD-AUC, the mean PSNR and mean "
        "MS-SSIM over the rate range every compared curve covers. *rates compared* is where the model's and "
        f"the reference's curves overlap within {lo:g}-{hi:g} bpp; a curve that does not span the whole "
        "range is marked (its BD-rate covers only that part).", "",
    ]
    for key, ds in doc["datasets"].items():
        rng = ds["auc_bpp"]
        ref = ds["reference_auc"] or {}
        lines += [f"## {ds['title']}", "",
                  f"Reference: `{ds['reference']}`; AUC over {rng[0]:.3f}-{rng[1]:.3f} bpp." if rng else
                  f"Reference: `{ds['reference']}`; no rate range is covered by every curve: no AUC.", "",
                  "| model | family | step | CPU-hours | recorded h | BD-rate PSNR | BD-rate MS-SSIM (dB) | "
                  "rates compared (bpp) | AUC PSNR (dB) | AUC MS-SSIM | note |",
                  "|---|---|---:|---:|---:|---:|---:|---|---:|---:|---|"]
        for p in sorted(ds["points"], key=lambda p: (list(FAMILIES).index(p["family"]), p["hours"])):
            rc = p["rates_compared"]
            cover = "" if p["covers_bpp_range"] else f" (curve {p['curve_bpp'][0]:.3f}-{p['curve_bpp'][1]:.3f}: not all of {lo:g}-{hi:g})"
            timed = "" if p["timed"] == "recorded" else f" ({p['timed']})"
            lines.append(
                f"| {p['name']} | {p['family']} | {p['step']:,} | {p['hours']:.2f}{timed} | {p['recorded_hours']:.2f} | "
                f"{_fmt(p['bd_rate_psnr'], '+.1f', ' %')} | {_fmt(p['bd_rate_ms-ssim-db'], '+.1f', ' %')} | "
                f"{rc[0]:.3f}-{rc[1]:.3f}{cover} | {_fmt(p['auc_psnr'])} | {_fmt(p['auc_ms-ssim'], '.4f')} | {p['note']} |")
        if "auc_psnr" in ref:
            lines.append(f"| {Path(ds['reference']).stem} (reference) | | | | | | | | {ref['auc_psnr']:.2f} | "
                         f"{ref['auc_ms-ssim']:.4f} | |")
        lines.append("")
    lines += ["## What the next doubling of CPU would buy (an extrapolation)", "",
              "From each family's best checkpoint on the metric (the last point of its frontier: the best the "
              "family had reached by that many hours), a straight line in log-hours carried to twice its hours. "
              "The slope is a least-squares fit through the last "
              + (f"{doc['fit_last']} checkpoints" if doc["fit_last"] else "checkpoints")
              + " of one model design (training.json `experiment.model`), the best checkpoint's own where it "
              "has two, else borrowed from the family's latest design that has two: a slope across designs "
              "would credit a design change to hours. BD-rates are fitted as log(1 + BD), MS-SSIM in dB. Two "
              "checkpoints make a line, not a law: read it as what the last stretch of training bought, "
              "carried one doubling further, with the caveats beside it.", "",
              "| dataset | family | metric | from | slope fitted on | now | per doubling | at 2x hours | caveats |",
              "|---|---|---|---|---|---:|---:|---:|---|"]
    for key, ds in doc["datasets"].items():
        for family, fits in ds["extrapolation"].items():
            for mkey, label, _, kind in _METRICS:
                e = fits[mkey]
                f = e["fit"]
                spec, unit = (("+.1f", " %") if kind == "bd" else ((".4f", "") if kind == "ms-ssim" else (".2f", " dB")))
                if f is None:
                    lines.append(f"| {key} | {family} | {label} | {e['anchor'] or '-'} | - | | | | "
                                 "no design of the family has 2 checkpoints with this metric: no line |")
                    continue
                lines.append(
                    f"| {key} | {family} | {label} | {e['anchor']} | {', '.join(e['fit_on'])} | {f['fitted_now']:{spec}}{unit} "
                    f"({f['from_hours']:.2f} h) | {f['per_doubling']:+{spec.lstrip('+')}}{unit} | **{f['extrapolated']:{spec}}{unit}** "
                    f"({f['to_hours']:.2f} h) | {'; '.join(e['caveats'])} |")
    lines.append("")
    if doc["skipped"]:
        lines += ["Left out: " + "; ".join(doc["skipped"]) + ".", ""]
    lines += [f"Made by `{doc['command']}`" if doc["command"] else "", ""]
    return "\n".join(lines)


def _plot(doc: dict, out: Path) -> Path:
    from matplotlib.figure import Figure  # no pyplot: the caller's backend is left alone
    from matplotlib.ticker import FuncFormatter

    panels = (("bd_rate_psnr", "PSNR BD-rate vs JPEG [%] (lower is better)"), ("auc_psnr", "AUC PSNR [dB]"))
    lower = {k: lw for k, _, lw, _ in _METRICS}
    fig = Figure(figsize=(13, 9))
    axes = fig.subplots(len(panels), len(doc["datasets"]), squeeze=False)
    for col, (dkey, ds) in enumerate(doc["datasets"].items()):
        for row, (mkey, ylabel) in enumerate(panels):
            ax = axes[row][col]
            for family, colour in _COLOURS.items():
                pts = sorted((p for p in ds["points"] if p["family"] == family and p[mkey] is not None),
                             key=lambda p: p["hours"])
                if not pts:
                    continue
                front = frontier(pts, mkey, lower[mkey])
                on = {p["name"] for p in front}
                ax.plot([p["hours"] for p in front], [p[mkey] for p in front], "-", color=colour, linewidth=1.6,
                        label=f"{family} (frontier)")
                for p in pts:
                    ax.plot(p["hours"], p[mkey], "o", color=colour, markersize=7,
                            markerfacecolor=colour if p["name"] in on else "white")
                    ax.annotate(p["name"].replace(FAMILIES[family], "").lstrip("-") or "(default)",
                                (p["hours"], p[mkey]), textcoords="offset points", xytext=(5, 5), fontsize=7,
                                color=colour)
                fit = ds["extrapolation"][family][mkey]["fit"]
                if fit:
                    ax.plot([fit["from_hours"], fit["to_hours"]], [fit["fitted_now"], fit["extrapolated"]],
                            "--", color=colour, linewidth=1.4, label=f"{family}: extrapolation to the next doubling")
                    ax.plot(fit["to_hours"], fit["extrapolated"], "x", color=colour, markersize=8)
                    ax.annotate(f"extrapolated: {fit['extrapolated']:.1f}", (fit["to_hours"], fit["extrapolated"]),
                                textcoords="offset points", xytext=(-30, -13), fontsize=7, color=colour)
            if mkey.startswith("bd"):
                ax.axhline(0.0, color="grey", linewidth=1, linestyle=":", label="the reference codec (JPEG)")
            elif ds["reference_auc"] and mkey in ds["reference_auc"]:
                ax.axhline(ds["reference_auc"][mkey], color="grey", linewidth=1, linestyle=":",
                           label="the reference codec (JPEG)")
            ax.set_xscale("log", base=2)  # a tick per doubling
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.set_xlabel("training CPU-hours (wall hours, 2-core EPYC; log scale)")
            rng = ds["auc_bpp"]
            extra = f", {rng[0]:.2f}-{rng[1]:.2f} bpp" if (mkey.startswith("auc") and rng) else \
                f", {doc['bpp_range'][0]:g}-{doc['bpp_range'][1]:g} bpp" if mkey.startswith("bd") else ""
            ax.set_ylabel(ylabel + extra)
            ax.set_title(ds["title"], fontsize=9)
            ax.grid(True, alpha=0.3, which="both")
    handles, labels = {}, {}
    for ax in axes.ravel():  # one legend for the figure, every entry once
        for h, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, h)
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=3, fontsize=8, frameon=False)
    fig.suptitle("Equal budget: recurrent vs hyperprior, real files; hollow = off the family's frontier; "
                 "dashed = extrapolation (straight line in log-hours)", fontsize=10)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    return out
