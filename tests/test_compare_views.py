"""experiments/compare_views.py: the views it builds, and the script end to end on a tiny checkpoint."""
import re

import pytest

from conftest import load_tool, run_script
from deepfake.checkpoint import load_model
from deepfake.preprocessing import Preprocessing


def test_a_larger_view_resizes_only_a_checkpoint_that_resizes():
    tool = load_tool("compare_views")
    whole_image = tool.view_sizes(Preprocessing(input_size=128, resize=128), [160])["160 px"]
    native_crops = tool.view_sizes(Preprocessing(input_size=128, resize=0), [160])["160 px"]
    assert (whole_image.input_size, whole_image.resize) == (160, 160)
    assert (native_crops.input_size, native_crops.resize) == (160, 0)
    assert whole_image.eval_crops == Preprocessing().eval_crops  # everything else is the checkpoint's own


def scores_by_view(stdout: str) -> dict:
    [row] = stdout.splitlines()[1:]
    return dict(re.findall(r"(\d+(?: px)?): (\d\.\d{4}) \(", row))


@pytest.mark.slow
def test_its_own_view_scores_the_same_in_both_comparisons(trained_checkpoint, labelled_folder):
    _, card = load_model(trained_checkpoint)
    own_size, own_layout = card.preprocessing.input_size, card.preprocessing.eval_crops
    layouts = run_script("experiments/compare_views.py", "--weights", str(trained_checkpoint), "--data",
                         str(labelled_folder))
    sizes = run_script("experiments/compare_views.py", "--weights", str(trained_checkpoint), "--data",
                       str(labelled_folder), "--view-sizes", "24", str(own_size))
    assert layouts.returncode == 0 and sizes.returncode == 0, layouts.stderr + sizes.stderr
    by_layout, by_size = scores_by_view(layouts.stdout), scores_by_view(sizes.stdout)
    assert sorted(by_layout, key=int) == ["1", "5", "9", "16"] and list(by_size) == ["24 px", f"{own_size} px"]
    assert by_size[f"{own_size} px"] == by_layout[str(own_layout)]
