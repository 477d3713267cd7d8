"""facelib.budget: budgets read from weights manifests, and the rule that gives a verdict only at equal budget."""
from __future__ import annotations

import copy

import pytest

from facelib.budget import (budget, budget_at_epoch, budget_differences, budget_line, budget_verdict, missing_line,
                            same_budget)


def _manifest(name: str, epochs: int, steps: int, init_from: str | None = None, data: str = "UTKFace") -> dict:
    history = [{"epoch": e, "global_step": e * (steps // epochs), "complete": True} for e in range(1, epochs + 1)]
    return {"name": name, "image_size": 64, "training": {"data": data, "epochs": epochs, "steps": steps,
                                                         "batch_size": 16, "init_from": init_from, "history": history}}


GEN6 = _manifest("generator", 6, 8136)
CE10 = _manifest("context_encoder", 10, 13560)


def test_budget_line_states_every_part_from_the_manifest():
    assert budget_line(GEN6) == ("generator: 6 epochs, 8,136 steps of 16 faces (130,176 faces seen) at 64x64 from "
                                 "scratch, on UTKFace")
    assert "epochs unknown" in budget_line({"name": "x", "training": {}}) and "data unknown" in budget_line({})


def test_equal_budget_only_when_every_part_is_known_and_equal():
    assert same_budget(GEN6, _manifest("gated", 6, 8136))
    assert budget_differences(CE10, GEN6) == ["epochs 10 vs 6", "steps 13,560 vs 8,136"]
    assert not same_budget(GEN6, _manifest("gated", 6, 8136, data="synthetic faces"))
    unknown = copy.deepcopy(GEN6)
    del unknown["training"]["batch_size"]
    assert not same_budget(unknown, unknown)  # an unknown part is never equal, not even to itself


def test_a_run_continued_from_the_other_at_epoch_k_counts_those_epochs():
    gen10 = _manifest("generator", 10, 13560)
    gan = _manifest("gan", 4, 13560 - 8136, init_from="generator epoch 6")
    assert same_budget(gan, gen10) and same_budget(gen10, gan)
    assert not same_budget(gan, GEN6)  # 6 + 4 epochs against 6
    assert budget_at_epoch(CE10, 6).steps == 6 * 1356 and budget_at_epoch(CE10, 11).steps is None


def test_verdict_only_at_equal_budget():
    a, b = {"mean": 22.0, "ci_lo": 21.8, "ci_hi": 22.2}, {"mean": 21.1, "ci_lo": 21.0, "ci_hi": 21.2}
    assert budget_verdict("context encoder", CE10, a, "generator", GEN6, b, "center 25%") == (
        "center 25%: context encoder 22.00 dB [21.80, 22.20], generator 21.10 dB [21.00, 21.20]; no verdict, the "
        "budgets differ (epochs 10 vs 6; steps 13,560 vs 8,136)")
    fair = budget_verdict("gated", _manifest("gated", 6, 8136), a, "generator", GEN6, b, "center 25%")
    assert fair.startswith("center 25%: gated is ahead of generator by 0.90 dB") and fair.endswith("equal budget")


def test_missing_line_names_each_model_and_its_command():
    line = missing_line(("generator", "gan", "gated"), {"generator": {}}, "weights")
    assert line == ("not in weights: gan, gated. Train each with: python experiments/classroom.py train gan; "
                    "python experiments/classroom.py train gated")
    assert missing_line(("generator",), {"generator": {}}, "weights") == ""


@pytest.mark.parametrize("init_from", ["generator", "runs/x/epoch_6.pt", None])
def test_a_start_that_names_no_epoch_of_the_other_is_kept(init_from):
    b = budget(_manifest("gan", 4, 5424, init_from=init_from))
    assert b.start == (init_from or "scratch") and not same_budget(_manifest("gan", 4, 5424, init_from), GEN6)


def _exported_continuation(name: str, sha: str) -> dict:
    """A manifest as ``facelib.export`` writes it for a run continued from committed 6-epoch weights."""
    m = _manifest(name, 10, 13560, init_from="generator")
    m["training"]["start"] = {"from": "weights", "weights": "generator", "sha256": [sha, "15441732032bea80"],
                              "epochs": 6, "steps": 8136}
    return m


def test_an_exported_continuation_names_its_start_by_file_not_by_name():
    gen10, gan = _exported_continuation("generator", "338a97a042d51e72"), _exported_continuation("gan", "338a97a042d51e72")
    assert budget(gan).start == "generator after 6 epochs (sha256 338a97a042d5,15441732032b), fresh optimiser"
    assert same_budget(gan, gen10)  # the same file, the same steps since: the GAN ablation's two arms
    assert not same_budget(gan, _exported_continuation("gan", "000000000000aaaa"))  # another "generator" file
    # a 10-epoch model from scratch has the same epochs and steps but not the same start (an optimiser restart)
    assert budget_differences(gen10, CE10) == [
        "start generator after 6 epochs (sha256 338a97a042d5,15441732032b), fresh optimiser vs scratch"]
    assert "starting from generator after 6 epochs" in budget_line(gen10)


def test_verdict_lines_give_psnr_and_kid_only_at_equal_budget():
    """The committed gan and generator share a budget (PSNR verdicts, then KID lines); the Context Encoder (10
    epochs) and the 6-epoch control do not (both numbers, no verdict, no KID line)."""
    from facelib.budget import load_control, verdict_lines
    from facelib.pretrained import load_manifest

    fair = verdict_lines("gan", load_manifest("gan"), "generator", load_manifest("generator"))
    assert len(fair) == 16 and all(line.endswith("at equal budget") for line in fair[::2])
    assert all(line.startswith("   ") and "KID gan" in line for line in fair[1::2])
    control = load_control("generator", 6)
    unequal = verdict_lines("context_encoder", load_manifest("context_encoder"), "generator", control)
    assert unequal == ["center 25%: context_encoder 22.60 dB [22.49, 22.71], generator 21.12 dB [21.02, 21.23]; "
                       "no verdict, the budgets differ (epochs 10 vs 6; steps 13,560 vs 8,136)"]
    assert load_control("generator", 7) is None
