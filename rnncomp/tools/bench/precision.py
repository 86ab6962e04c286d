"""bfloat16 against float32 training of one experiment: whole-step speed, quality at equal steps,
and the oneDNN kernels each ran (``make bench-precision``).

For each precision the experiment is trained from the same seed for ``2 * steps`` steps (two
epochs of ``steps``) in a fresh run folder; s/step is the second epoch's training time over its
steps (the first holds tracing). Quality: the validation after each epoch (the run's own
``validation.jsonl``, decoded in float32). Kernels: a separate 2-step run with
``ONEDNN_VERBOSE=1`` in a subprocess, its ``exec`` lines counted by primitive and
implementation (e.g. ``convolution brg_conv_fwd:avx512_core_bf16``). Writes
``precision.json`` and ``precision.md``.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["bench_precision", "main", "onednn_kernels"]

_KERNEL_SCRIPT = """
import sys
from rnncomp.training.experiments import load_train_config
from rnncomp.training.trainer import Trainer
cfg = load_train_config(sys.argv[1], {"precision": sys.argv[2], "steps_per_epoch": 2, "epochs": 1,
                                      "run_dir": sys.argv[3], "validation_images": 4, "log_every": 1})
Trainer(cfg).run()
"""


def onednn_kernels(config, precision: str, force: bool = False) -> dict:
    """``{"primitive impl": count}`` of oneDNN's executed primitives in a 2-step run."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "ONEDNN_VERBOSE": "1", "TF_ENABLE_ONEDNN_OPTS": "1"}
        if force:
            env["RNNCOMP_FORCE_BF16"] = "1"
        out = subprocess.run([sys.executable, "-c", _KERNEL_SCRIPT, str(config), precision, tmp + "/run"],
                             capture_output=True, text=True, env=env)
    counts = collections.Counter()
    for line in (out.stdout + out.stderr).splitlines():
        parts = line.split(",")
        if line.startswith("onednn_verbose") and "exec" in parts and len(parts) > 6:
            i = parts.index("exec")
            primitive, impl = parts[i + 2], parts[i + 3]
            counts[f"{primitive} {impl}"] += 1
    return dict(counts.most_common())


def _run(config, precision: str, steps: int, folder: Path, force: bool = False) -> dict:
    from rnncomp.training.experiments import load_train_config
    from rnncomp.training.trainer import Trainer

    run_dir = folder / precision
    cfg = load_train_config(config, {"precision": precision, "steps_per_epoch": steps, "epochs": 2,
                                     "run_dir": str(run_dir), "checkpoint_minutes": 1e9, "max_minutes": None})
    trainer = Trainer(cfg, out=open(os.devnull, "w"))
    if force:
        os.environ["RNNCOMP_FORCE_BF16"] = "1"
    try:
        trainer.run()
    finally:
        os.environ.pop("RNNCOMP_FORCE_BF16", None)
    curve = [json.loads(line) for line in (run_dir / "validation.jsonl").read_text().splitlines() if line.strip()]
    second = curve[-1]["train_seconds"] - curve[0]["train_seconds"]
    return {"precision": precision, "used": trainer.precision, "s_per_step": second / steps,
            "validation": [{"step": v["step"], "ms-ssim": v["ms-ssim"], "psnr": v["psnr"]} for v in curve]}


def bench_precision(config, steps: int = 100, out_dir="experiments/results/precision", force: bool = False) -> dict:
    """Both precisions on ``config`` (see the module docstring); returns and writes the results."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for precision in ("float32", "bfloat16"):
            r = _run(config, precision, steps, Path(tmp), force)
            r["kernels"] = onednn_kernels(config, precision, force)
            results.append(r)
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor()
    report = {"config": str(config), "steps": steps, "cpu": cpu, "cores": os.cpu_count(), "results": results,
              "command": f"python -m rnncomp.tools.bench.precision {config} --steps {steps}"
                         + (" --force" if force else "")}
    (out_dir / "precision.json").write_text(json.dumps(report, indent=2) + "\n")
    (out_dir / "precision.md").write_text(format_report(report))
    return report


def format_report(report: dict) -> str:
    f32, bf16 = report["results"]
    lines = [f"# bfloat16 vs float32 training: {report['config']}", "",
             f"Machine: {report['cpu']}, {report['cores']} cores. Command: `{report['command']}`.", "",
             "| precision | ran as | s/step (epoch 2) | " + " | ".join(
                 f"MS-SSIM / PSNR @ step {v['step']} (last iteration)" for v in f32["validation"]) + " |",
             "|---|---|---:|" + "---:|" * len(f32["validation"])]
    for r in (f32, bf16):
        cells = " | ".join(f"{v['ms-ssim'][-1]:.4f} / {v['psnr'][-1]:.2f} dB" for v in r["validation"])
        lines.append(f"| {r['precision']} | {r['used']} | {r['s_per_step']:.3f} | {cells} |")
    lines += ["", f"Speed-up: {f32['s_per_step'] / bf16['s_per_step']:.2f}x.", ""]
    for r in (f32, bf16):
        lines += [f"oneDNN primitives executed in 2 steps ({r['precision']}, `ONEDNN_VERBOSE=1`):", ""]
        lines += [f"- `{k}`: {n}" for k, n in list(r["kernels"].items())[:12]] or ["- (none reported)"]
        lines.append("")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("config", help="experiment JSON (e.g. experiments/scaling/lstm2-w25.json)")
    p.add_argument("--steps", type=int, default=100, help="steps per epoch (two epochs per precision)")
    p.add_argument("--out", default="experiments/results/precision")
    p.add_argument("--force", action="store_true",
                   help="train in bf16 even where the CPU lacks it (measures oneDNN's emulation)")
    args = p.parse_args(argv)
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
    print(format_report(bench_precision(args.config, args.steps, args.out, args.force)))


if __name__ == "__main__":
    main()
