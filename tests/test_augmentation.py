"""Training-time augmentation: reframing, relighting and degradations stay inside the image, can be switched off,
and follow torch's seed (so a run is reproducible); mixup blends images and labels alike."""
import numpy as np
import pytest
import torch
from PIL import Image

from deepfake.training.mixup import Mixup
from deepfake.data.transforms import (NO_AUGMENTATION, Augmentation, Degrade, Reframe, Relight,
                                      build_train_transform, to_normalized_tensor)
from deepfake.preprocessing import Preprocessing


def _gradient(width: int, height: int) -> Image.Image:
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :, None]
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None, None]
    return Image.fromarray(np.broadcast_to((x + y) / 2, (height, width, 3)).astype(np.uint8))


def _coordinates(width: int, height: int) -> np.ndarray:
    """Every pixel names its own position: red = x, green = y (both below 256 here)."""
    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    pixels[:, :, 0] = np.arange(width)[None, :]
    pixels[:, :, 1] = np.arange(height)[:, None]
    return pixels


@pytest.mark.parametrize("width, height", [(256, 256), (250, 120), (40, 90)])
def test_reframe_keeps_a_window_of_the_image_at_its_aspect(width, height):
    reframe = Reframe(Augmentation(reframe_probability=1.0, min_reframe_fraction=0.75))
    pixels = _coordinates(width, height)
    torch.manual_seed(0)
    sizes = set()
    for _ in range(20):
        window = np.asarray(reframe(Image.fromarray(pixels)))
        fraction = window.shape[1] / width
        assert 0.75 - 1 / width <= fraction <= 1 and abs(window.shape[0] / height - fraction) <= 2 / min(width, height)
        left, top = int(window[0, 0, 0]), int(window[0, 0, 1])
        # A piece of the image, pixel for pixel: not a resampled copy.
        assert np.array_equal(window, pixels[top:top + window.shape[0], left:left + window.shape[1]])
        sizes.add(window.shape)
    assert len(sizes) > 1  # the fraction is drawn, not fixed


@pytest.mark.parametrize("side, smallest_window", [(128, 128), (100, 100), (150, 128), (256, 192)])
def test_reframe_never_cuts_below_the_networks_view(side, smallest_window):
    """An image at or under the view size is left whole; a larger one keeps at least the view size (or the
    75% floor, whichever is larger), so no window has to be enlarged back to the view."""
    reframe = Reframe(Augmentation(reframe_probability=1.0, min_reframe_fraction=0.75), view_size=128)
    image = Image.fromarray(_coordinates(side, side))
    torch.manual_seed(0)
    widths = {reframe(image).width for _ in range(50)}
    assert min(widths) >= smallest_window and max(widths) <= side
    assert (widths == {side}) == (side <= 128)


def test_train_transform_leaves_an_image_of_the_view_size_whole():
    """With --resize at the view size, a frame already that small reaches the network as it is (or mirrored):
    reframing it would enlarge a window back to the view."""
    preprocessing = Preprocessing(input_size=64, resize=64)
    augmentation = Augmentation(reframe_probability=1.0, downscale_probability=0.0, blur_probability=0.0,
                                jpeg_probability=0.0)
    transform = build_train_transform(preprocessing, augmentation)
    image = _gradient(64, 64)
    expected = to_normalized_tensor(preprocessing)(image)
    torch.manual_seed(0)
    for _ in range(10):
        seen = transform(image)
        assert torch.equal(seen, expected) or torch.equal(seen, expected.flip(-1))


def test_reframe_and_degradations_follow_torchs_seed():
    augmentation = Augmentation(reframe_probability=1.0, downscale_probability=1.0, blur_probability=1.0,
                                jpeg_probability=1.0)
    image = _gradient(300, 200)

    def run():
        torch.manual_seed(7)
        return np.asarray(Degrade(augmentation)(Reframe(augmentation)(image)))

    first, second = run(), run()
    assert first.shape == second.shape and np.array_equal(first, second)


def test_no_augmentation_changes_nothing():
    image = _gradient(200, 150)
    unchanged = Degrade(NO_AUGMENTATION)(Relight(NO_AUGMENTATION)(Reframe(NO_AUGMENTATION)(image)))
    assert np.array_equal(np.asarray(unchanged), np.asarray(image))


def test_relighting_scales_brightness_within_its_range_and_follows_torchs_seed():
    grey = Image.new("RGB", (32, 32), (100, 100, 100))  # contrast and saturation leave a flat grey as it is
    relight = Relight(Augmentation(relight_probability=1.0, max_relight_change=0.3))

    def levels(seed):
        torch.manual_seed(seed)
        return [float(np.asarray(relight(grey)).mean()) for _ in range(20)]

    drawn = levels(0)
    assert all(70 - 1 <= level <= 130 + 1 for level in drawn) and max(drawn) - min(drawn) > 20
    assert drawn == levels(0)


def test_relighting_off_by_default_draws_nothing_from_the_rng():
    """Commands from before relighting existed must train the same weights: off, it must not shift the random stream."""
    image = _gradient(64, 48)
    torch.manual_seed(3)
    expected_next = torch.rand(()).item()
    torch.manual_seed(3)
    assert Relight(Augmentation())(image) is image
    assert torch.rand(()).item() == expected_next


def test_mixup_blends_each_image_with_a_partner_by_the_same_share_as_its_label():
    labels = torch.tensor([0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0])
    images = labels.view(-1, 1, 1, 1).expand(-1, 3, 4, 4).clone()  # every pixel holds its image's label
    torch.manual_seed(0)
    mixed_images, mixed_labels = Mixup(0.4)(images, labels)
    assert torch.allclose(mixed_images, mixed_labels.view(-1, 1, 1, 1).expand_as(mixed_images), atol=1e-6)
    assert ((mixed_labels > 0) & (mixed_labels < 1)).any()  # real and fake were blended
    assert torch.allclose(mixed_labels.sum(), labels.sum(), atol=1e-5)  # a permutation: the fake share is kept
    torch.manual_seed(0)
    again = Mixup(0.4)(images, labels)
    assert torch.equal(again[0], mixed_images) and torch.equal(again[1], mixed_labels)


@pytest.mark.parametrize("resize", [0, 64])
@pytest.mark.parametrize("width, height", [(256, 256), (400, 120), (30, 50)])
def test_train_transform_always_gives_the_network_its_square(resize, width, height):
    transform = build_train_transform(Preprocessing(input_size=64, resize=resize),
                                      Augmentation(reframe_probability=1.0, downscale_probability=1.0))
    torch.manual_seed(0)
    for _ in range(3):
        assert transform(_gradient(width, height)).shape == (3, 64, 64)
