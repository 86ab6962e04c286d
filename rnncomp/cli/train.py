"""Making models: ``train``, ``tune``, ``recipes``, ``scaling``, ``bench-data``, ``srgan-train``, ``srgan-eval``,
``fit-prior``, ``fit-entropy`` and ``ship``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rnncomp.cli.common import command_line, positive_int
from rnncomp.errors import RnncompError

__all__ = ["PARSERS", "cmd_bench_data", "cmd_fit_entropy", "cmd_fit_prior", "cmd_recipes", "cmd_scaling", "cmd_ship", "cmd_srgan_eval",
           "cmd_srgan_train", "cmd_train", "cmd_tune"]


# --- train -------------------------------------------------------------------------------------


def _override(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


def add_train(sub, fmt) -> None:
    t = sub.add_parser("train", formatter_class=fmt, help="train a model from an experiment config",
                       description="Train with an experiment config (experiments/*.json). Writes the "
                                   "paper-format log, TensorBoard events and checkpoints to the run "
                                   "folder (runs/NAME unless the config sets run_dir).")
    t.add_argument("--config", required=True, help="experiment JSON file")
    t.add_argument("--resume", action="store_true", help="continue from the run's last checkpoint")
    t.add_argument("--set", action="append", type=_override, metavar="KEY=VALUE",
                   help="override a config field (dotted keys, JSON values), e.g. --set epochs=5 "
                        "--set optimizer.learning_rate=1e-3")
    t.add_argument("--progress", action="store_true", help="Keras progress bar (interactive use)")
    t.set_defaults(func=cmd_train)


def cmd_train(args) -> int:
    from rnncomp.training.trainer import train

    trainer = train(args.config, resume=args.resume, overrides=dict(args.set or []),
                    progress=args.progress)
    print(f"run folder: {trainer.run_dir}", file=sys.stderr)
    return 0


# --- tune --------------------------------------------------------------------------------------


def add_tune(sub, fmt) -> None:
    tu = sub.add_parser("tune", formatter_class=fmt, help="Hyperband sweep over an experiment (keras-tuner)",
                        description="Run or resume a Hyperband sweep (experiments/sweeps/*.json): trials "
                                    "train with rnncomp's trainer and are scored by the sweep's objective "
                                    "through real files. Writes DIR/NAME/trials.md, trials.json and "
                                    "best.json (the best trial as an experiment file). Distributed: set "
                                    "KERASTUNER_ORACLE_IP, KERASTUNER_ORACLE_PORT and KERASTUNER_TUNER_ID "
                                    "(chief, tuner0, tuner1, ...) and run the same command in each "
                                    "process (docs/tuning.md).")
    tu.add_argument("--config", required=True, help="sweep JSON file (experiments/sweeps/NAME.json)")
    tu.add_argument("--dir", default="runs/sweeps", help="folder of sweep folders")
    tu.add_argument("--overwrite", action="store_true",
                    help="delete the sweep's folder and start over (default: resume it)")
    tu.add_argument("--max-trials", type=positive_int, default=None,
                    help="stop after this many trials in this invocation (resume later)")
    tu.add_argument("--report", action="store_true", help="only rewrite the report of the trials so far")
    tu.add_argument("--export", metavar="FILE", help="also copy the best experiment file to FILE")
    tu.add_argument("--quiet", action="store_true", help="no keras-tuner progress output")
    tu.set_defaults(func=cmd_tune)


def cmd_tune(args) -> int:
    import shutil

    from rnncomp.training.tune import tune

    report = tune(args.config, directory=args.dir, overwrite=args.overwrite, max_trials=args.max_trials,
                  verbose=0 if args.quiet else 1, report_only=args.report)
    if not report:
        return 0  # a keras-tuner worker, or an interrupted sweep: the chief / the next run reports
    print(Path(args.dir, report["sweep"], "trials.md").read_text(), end="")
    if not report["best_config"]:
        print("no trial has completed yet", file=sys.stderr)
        return 0
    print(f"best experiment: {report['best_config']}", file=sys.stderr)
    if args.export:
        Path(args.export).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(report["best_config"], args.export)
        print(f"exported to {args.export}", file=sys.stderr)
    return 0


# --- recipes -----------------------------------------------------------------------------------


def add_recipes(sub, fmt) -> None:
    rc = sub.add_parser("recipes", formatter_class=fmt,
                        help="equal-wall-time comparison of training recipes on one validation set",
                        description="Train each experiment config for the same number of minutes "
                                    "(one after another), then compare their validation curves. "
                                    "Finished runs are reused unless --force.")
    rc.add_argument("configs", nargs="+", help="experiment JSON files (e.g. experiments/recipes/*.json)")
    rc.add_argument("--minutes", type=float, default=4.0, help="training minutes per recipe")
    rc.add_argument("--out", default="experiments/results/recipes", help="report folder")
    rc.add_argument("--runs", default="runs/recipes", help="where the runs are written")
    rc.add_argument("--force", action="store_true", help="retrain recipes that already finished")
    rc.set_defaults(func=cmd_recipes)


def cmd_recipes(args) -> int:
    from rnncomp.training.recipes import compare_recipes

    doc = compare_recipes(args.configs, args.minutes, args.out, runs=args.runs, force=args.force,
                          command=command_line(args))
    print((Path(args.out) / "recipes.md").read_text(), end="")
    print(f"{len(doc['recipes'])} recipes; report in {args.out}/recipes.{{json,md,png}}", file=sys.stderr)
    return 0


# --- scaling -----------------------------------------------------------------------------------


def add_scaling(sub, fmt) -> None:
    sc = sub.add_parser("scaling", formatter_class=fmt,
                        help="the scaling study: fit each run's time-to-quality curve and extrapolate it",
                        description="Reads the validation curves of run folders (quality: MS-SSIM RD-AUC "
                                    "0.125-1 bpp), fits q(t) = a - b t^-c to each and predicts it at --budget "
                                    "hours (rnncomp.training.scaling).")
    sc.add_argument("runs", nargs="+", help="run folders (with validation.jsonl)")
    sc.add_argument("--budget", type=float, default=10.0, help="training hours to predict at")
    sc.add_argument("--fit-from", type=float, default=0.05, help="fit on points after this many hours")
    sc.add_argument("--out", default="experiments/results/scaling", help="report folder")
    sc.add_argument("--step-seconds", action="append", default=[], metavar="RUN=S",
                    help="time run folder RUN from its steps at S s/step (measured on this machine)")
    sc.set_defaults(func=cmd_scaling)


def cmd_scaling(args) -> int:
    from rnncomp.training.scaling import study

    try:
        rates = {k: float(v) for k, v in (item.split("=", 1) for item in args.step_seconds)}
    except ValueError:
        raise RnncompError("--step-seconds takes RUN=SECONDS, e.g. default=0.95") from None
    study(args.runs, args.budget, args.out, command=command_line(args), fit_from=args.fit_from, step_seconds=rates)
    print((Path(args.out) / "scaling.md").read_text(), end="")
    print(f"report in {args.out}/scaling.{{json,md,png}}", file=sys.stderr)
    return 0


# --- bench-data --------------------------------------------------------------------------------


def add_bench_data(sub, fmt) -> None:
    bdata = sub.add_parser("bench-data", formatter_class=fmt,
                           help="throughput of a config's training input pipeline alone")
    bdata.add_argument("--config", required=True, help="experiment JSON file")
    bdata.add_argument("--batches", type=positive_int, default=50, help="batches to time")
    bdata.set_defaults(func=cmd_bench_data)


def cmd_bench_data(args) -> int:
    from rnncomp.training.trainer import load_train_config, pipeline_throughput

    r = pipeline_throughput(load_train_config(args.config), batches=args.batches)
    print(f"input pipeline of {args.config}: {r['crops_per_second']:.0f} crops/s, "
          f"{r['seconds_per_batch'] * 1000:.1f} ms per batch ({r['batches']} batches, {r['crops']} crops)")
    return 0


# --- srgan-train -------------------------------------------------------------------------------


def add_srgan_train(sub, fmt) -> None:
    sg = sub.add_parser("srgan-train", formatter_class=fmt,
                        help="train the SRGAN x4 upscaler (SRResNet pre-training, then adversarial)",
                        description="Train the SRGAN generator and discriminator (Ledig et al. 2017) from "
                                    "an experiment file (see experiments/srgan-default.json); resumes the "
                                    "run when it has checkpoints.")
    sg.add_argument("--config", required=True, help="SRGAN experiment JSON")
    sg.add_argument("--minutes", type=float, help="stop (with a checkpoint) after this many minutes")
    sg.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    sg.set_defaults(func=cmd_srgan_train)


def cmd_srgan_train(args) -> int:
    from rnncomp.training.srgan import train_srgan_config

    summary = train_srgan_config(args.config, minutes=args.minutes, progress=not args.quiet)
    print(f"run folder: {summary['run_dir']} (step {summary['step']}, {summary['phase']})", file=sys.stderr)
    return 0


# --- srgan-eval --------------------------------------------------------------------------------


def add_srgan_eval(sub, fmt) -> None:
    se = sub.add_parser("srgan-eval", formatter_class=fmt,
                        help="x4 upscaling: a SRGAN generator against bicubic (PSNR, SSIM)",
                        description="Downscale every image by 4 (bicubic), upscale it back with bicubic "
                                    "and with the generator, and score both (RGB and Y, 4-pixel border).")
    se.add_argument("--model", default="srgan-x4", help="shipped generator name or checkpoint folder")
    se.add_argument("--data", help="image folder (default: the bundled Kodak samples)")
    se.add_argument("--limit", type=positive_int, help="at most this many images")
    se.add_argument("--out", default="results/srgan-eval.json", help="result JSON")
    se.set_defaults(func=cmd_srgan_eval)


def cmd_srgan_eval(args) -> int:
    from rnncomp.images import load_images, sample_images_dir
    from rnncomp.training.srgan import evaluate_upscaling, write_upscaling_result
    from rnncomp.zoo import load_model

    data = args.data or sample_images_dir() / "kodak"
    images = load_images(data, limit=args.limit)
    generator = load_model(args.model)
    result = evaluate_upscaling(generator, images, name=str(args.model))
    result["data"] = str(data)
    from rnncomp.provenance import machine_info

    result["machine"] = machine_info(with_tensorflow=True)
    write_upscaling_result(result, args.out)
    m = result["mean"]
    for k in ("bicubic", "generator"):
        print(f"{k:9s}  PSNR {m[k]['psnr_rgb']:.2f} dB (Y {m[k]['psnr_y']:.2f})  "
              f"SSIM {m[k]['ssim_rgb']:.4f} (Y {m[k]['ssim_y']:.4f})")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


# --- fit-prior ---------------------------------------------------------------------------------


def add_fit_prior(sub, fmt) -> None:
    fp = sub.add_parser("fit-prior", formatter_class=fmt,
                        help="fit the 'prior' entropy coder's starting counts to a model's codes",
                        description="Encode training images with the model, count the context coder's "
                                    "statistics, and save them (scaled to --weight per context) as the "
                                    "model's context prior. Put it in the model folder as "
                                    "context-prior.npz; the fingerprint then covers it.")
    fp.add_argument("--model", required=True, help="model name or checkpoint folder")
    fp.add_argument("--data", nargs="+", required=True, help="training images: folders, images or .npz")
    fp.add_argument("--limit", type=positive_int, help="at most N images per source")
    fp.add_argument("--crop", type=positive_int, help="a seeded random SxS crop of larger images")
    fp.add_argument("--iterations", type=positive_int, default=8, help="iterations to count")
    fp.add_argument("--weight", type=positive_int, default=512, help="largest total count per context")
    fp.add_argument("--seed", type=int, default=0, help="seed of the crops")
    fp.add_argument("--out", required=True, help="output .npz (e.g. MODEL_FOLDER/context-prior.npz)")
    fp.set_defaults(func=cmd_fit_prior)


def cmd_fit_prior(args) -> int:
    from rnncomp.codec import resolve_model
    from rnncomp.entropy.prior import fit_prior_from_images, save_prior

    model = resolve_model(args.model)
    prior, sizes = fit_prior_from_images(model, args.data, iterations=args.iterations, weight=args.weight,
                                         limit=args.limit, crop=args.crop, seed=args.seed)
    path = save_prior(args.out, prior)
    print(f"context prior from {int(prior['images'])} images ({sizes} sizes), weight {args.weight} "
          f"-> {path}")
    return 0


# --- fit-entropy -------------------------------------------------------------------------------


def add_fit_entropy(sub, fmt) -> None:
    fe = sub.add_parser("fit-entropy", formatter_class=fmt,
                        help="train the 'learned' entropy coder's integer context model on a model's codes",
                        description="Encode training images with the model (random --crop windows of large "
                                    "images, small images whole), train the context model on code length "
                                    "with its integer arithmetic simulated, freeze it to integers and save "
                                    "it. Written into a model folder as context-model.npz (the default for "
                                    "a shipped model or checkpoint folder), the fingerprint of learned files covers "
                                    "it. compress uses it only with --entropy learned: auto never picks "
                                    "learned (the browser decoder cannot read it yet).")
    fe.add_argument("--model", required=True, help="model name or checkpoint folder")
    fe.add_argument("--data", nargs="+", help="training images: folders, images or .npz (not needed with "
                                               "an existing --cache)")
    fe.add_argument("--limit", type=positive_int, help="at most N images per source")
    fe.add_argument("--crop", type=positive_int, default=128, help="one seeded random SxS crop per larger image")
    fe.add_argument("--iterations", type=positive_int, default=8, help="iterations of codes")
    fe.add_argument("--cache", help="codes .npz: read if it exists (and made by this model), else written")
    fe.add_argument("--steps", type=positive_int, default=2000, help="training steps")
    fe.add_argument("--hidden", type=positive_int, nargs=2, default=[32, 16], metavar=("H1", "H2"),
                    help="the two hidden layers' widths")
    fe.add_argument("--batch-bits", type=positive_int, default=1 << 17, help="code bits per training batch")
    fe.add_argument("--learning-rate", type=float, default=5e-3, help="Adam's initial learning rate")
    fe.add_argument("--seed", type=int, default=0, help="seed of the crops, the split and the initial weights")
    fe.add_argument("--out", help="output .npz (default: MODEL_FOLDER/context-model.npz)")
    fe.set_defaults(func=cmd_fit_entropy)


def cmd_fit_entropy(args) -> int:
    import json
    from pathlib import Path

    from rnncomp.codec import resolve_model
    from rnncomp.entropy.learned import FILENAME, save_table
    from rnncomp.entropy.learned_fit import extract_codes, fit_context_model, load_codes, save_codes
    from rnncomp.errors import RnncompError
    from rnncomp.zoo import _resolve, fingerprint

    path, _ = _resolve(args.model)
    out = Path(args.out) if args.out else (path / FILENAME if path.is_dir() else None)
    if out is None:
        raise RnncompError("a .keras model has no folder to hold its context model: pass --out")
    model = resolve_model(args.model)
    fp = fingerprint(model).hex()
    cache = Path(args.cache) if args.cache else None
    codes = None
    if cache is not None and cache.is_file():
        try:
            codes = load_codes(cache, fingerprint=fp)
            print(f"codes from {cache}", file=sys.stderr)
        except RnncompError as e:  # codes of other weights: extract them again
            print(f"{e}: extracting again", file=sys.stderr)
    if codes is None:
        if not args.data:
            raise RnncompError("--data is needed to extract codes (no --cache file yet)")
        codes = extract_codes(model, args.data, iterations=args.iterations, crop=args.crop, limit=args.limit,
                              seed=args.seed, log=lambda m: print(m, file=sys.stderr))
        if cache is not None:
            save_codes(cache, codes, fingerprint=fp)
    table, report = fit_context_model(codes, hidden1=args.hidden[0], hidden2=args.hidden[1], steps=args.steps,
                                      learning_rate=args.learning_rate, batch_bits=args.batch_bits,
                                      seed=args.seed, log=lambda m: print(m, file=sys.stderr))
    report.update({"model_fingerprint": fp, "codes": {k: list(v.shape) for k, v in codes.items()},
                   "command": " ".join(["rnncomp"] + sys.argv[1:])})
    save_table(out, table)
    out.with_name(out.stem + "-training.json").write_text(json.dumps(report, indent=1) + "\n")
    val = ", ".join(f"{k}: {v['integer_bits_per_bit']:.4f}" for k, v in report["validation"].items())
    print(f"context model ({args.hidden[0]}, {args.hidden[1]} hidden) after {args.steps} steps "
          f"({report['train_seconds']:.0f} s); held-out bits per code bit {val} -> {out}")
    return 0


# --- ship --------------------------------------------------------------------------------------


def add_ship(sub, fmt) -> None:
    sh = sub.add_parser("ship", formatter_class=fmt, help="copy a checkpoint's model into rnncomp/weights/NAME",
                        description="Ship a training checkpoint as a named model (config + weights + "
                                    "training.json with the step, training time and last validation).")
    sh.add_argument("checkpoint", help="runs/NAME/checkpoints/step-NNNNNNNN")
    sh.add_argument("--name", default="rnncomp-default", help="the shipped model's name")
    sh.add_argument("--run-dir", help="the run folder (default: the checkpoint's)")
    sh.add_argument("--float16", action="store_true",
                    help="store the weights in half precision (half the size; the model is the rounded one)")
    sh.set_defaults(func=cmd_ship)


def cmd_ship(args) -> int:
    from rnncomp.zoo import ship

    dest = ship(args.checkpoint, args.name, args.run_dir, float16=args.float16)
    print(f"shipped {args.checkpoint} as {args.name} -> {dest}")
    return 0


#: Subcommand name -> the function that adds its parser (``rnncomp.cli`` orders them).
PARSERS = {"train": add_train, "tune": add_tune, "recipes": add_recipes, "scaling": add_scaling,
           "bench-data": add_bench_data,
           "srgan-train": add_srgan_train, "srgan-eval": add_srgan_eval, "fit-prior": add_fit_prior,
           "fit-entropy": add_fit_entropy, "ship": add_ship}
