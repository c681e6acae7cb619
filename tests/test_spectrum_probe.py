"""experiments/spectrum_probe.py: its spectrum feature, and the script end to end on a tiny checkpoint."""
import numpy as np
from PIL import Image

from conftest import load_tool, run_script


def test_a_periodic_trace_shows_as_a_peak_at_its_frequency():
    tool = load_tool("spectrum_probe")
    side = 64
    flat = np.random.default_rng(0).normal(128, 10, (side, side))
    stripes = flat + 40 * np.cos(2 * np.pi * np.arange(side) / 4)[None, :]  # period 4 px: radius side / 4
    as_image = lambda pixels: Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).convert("RGB")
    plain, striped = (tool.radial_log_spectrum(as_image(pixels), side) for pixels in (flat, stripes))
    assert plain.shape == striped.shape == (side // 2,)
    excess = striped - plain
    assert int(np.argmax(excess)) == side // 4 and excess[side // 4] > 3 * np.abs(np.delete(excess, side // 4)).max()


def test_the_probe_prints_every_condition_for_each_set(trained_checkpoint, labelled_folder):
    result = run_script("experiments/spectrum_probe.py", "--weights", str(trained_checkpoint), "--data",
                        str(labelled_folder))
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()[1:]]
    assert [row[1] for row in rows] == ["clean", "jpeg_q95", "jpeg_q75", "jpeg_q50", "downscale_0.5x",
                                        "gaussian_blur_sigma1", "center_crop_0.8"]
    for row in rows:  # set, condition, then "spectrum / checkpoint / fused"
        scores = [float(value) for value in row[2::2]]
        assert row[3::2] == ["/", "/"] and all(0 <= score <= 1 for score in scores)
