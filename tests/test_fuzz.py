"""The fuzzer of valid-looking files (``rnncomp.tools.fuzz``): a seeded few cases here, more with ``make fuzz``."""

import json
import subprocess
import sys

from rnncomp.tools import fuzz

from test_quiet import assert_quiet, plain_env


def test_seeded_cases_of_every_kind_end_in_an_image_or_a_one_line_error():
    summary = fuzz.run(45, seed=0)
    assert summary["failures"] == [] and summary["cases"] == 45
    assert summary["decoded"] >= 5 and summary["refused"] >= 20  # the cases reach the models, and the limits


def test_the_largest_files_the_default_budget_allows_stay_within_the_stated_bound():
    """A child process (its own peak memory): an untiled 1024x1024 recurrent-codec file, a 2048x2048 end-to-end one."""
    code = "import json; from rnncomp.tools import fuzz; print(json.dumps(fuzz.largest(['binary-untiled', 'compact'])))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=plain_env(), timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert_quiet(run.stderr)  # import rnncomp: no TensorFlow start-up lines either
    result = json.loads(run.stdout.strip().splitlines()[-1])
    for name, r in result.items():
        assert r["shape"] == [r["height"], r["width"], 3]
        assert 0 < r["peak_mb"] <= r["bound_mb"], (name, r)


def test_hostile_adaptive_files_of_every_mutation_end_in_an_image_or_a_one_line_error():
    """Version-3 files: the iteration map (beyond k, all 1, wrong size, cut, ...) and the masked chunks mutated."""
    import numpy as np

    models = fuzz.tiny_models(kinds=("binary",))
    rng = np.random.default_rng(0)
    outcomes = {}
    for mutation in fuzz.SABR_MUTATIONS:
        case = fuzz._sabr_case(rng, models["binary"], mutation)
        assert case.kind == "sabr" and case.data[2] == 3 and case.fields["mutation"] == mutation
        result = fuzz.run_case(case, models)
        assert result["outcome"] in ("decoded", "refused"), (mutation, result)
        outcomes[mutation] = result["outcome"]
    assert outcomes["none"] == outcomes["chunks-other-map"] == "decoded"  # valid-looking: an image
    refused = [m for m in fuzz.SABR_MUTATIONS if m.startswith("map-")] + ["tile", "chunks-empty", "chunks-missing"]
    assert all(outcomes[m] == "refused" for m in refused), outcomes
    kinds = [c.kind for c in fuzz.make_cases(5, 0, models, kinds=("sabr",))]  # make fuzz draws them in turn
    assert kinds == ["sabr"] * 5 and "sabr" in fuzz.MODEL_KIND
