import io

import numpy as np
import pytest
from PIL import Image

from deepfake import DeepfakeError
from deepfake.data.images import MAX_IMAGE_PIXELS, load_rgb_image


def jpeg_bytes(size=(32, 24)) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(
        buffer, "JPEG")
    return buffer.getvalue()


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "P", "CMYK", "I;16", "1"])
def test_every_common_mode_becomes_rgb(tmp_path, mode):
    path = tmp_path / f"image_{mode.replace(';', '')}.{'tif' if mode in ('CMYK', 'I;16') else 'png'}"
    Image.new(mode, (20, 10)).save(path)
    image = load_rgb_image(path)
    assert image.mode == "RGB" and image.size == (20, 10)


def test_sixteen_bit_is_rescaled_not_clipped(tmp_path):
    path = tmp_path / "deep.png"
    Image.fromarray(np.full((4, 4), 32768, dtype=np.uint16)).save(path)
    assert load_rgb_image(path).getpixel((0, 0)) == (128, 128, 128)


def test_transparency_is_composited_on_white(tmp_path):
    path = tmp_path / "clear.png"
    Image.new("RGBA", (4, 4), (0, 0, 0, 0)).save(path)
    assert load_rgb_image(path).getpixel((0, 0)) == (255, 255, 255)


def test_exif_orientation_is_applied(tmp_path):
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    Image.new("RGB", (40, 20)).save(path, exif=exif)
    assert load_rgb_image(path).size == (20, 40)


def test_animated_image_gives_first_frame(tmp_path):
    path = tmp_path / "anim.gif"
    frames = [Image.new("RGB", (8, 8), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(path, save_all=True, append_images=frames[1:])
    red, green, blue = load_rgb_image(path).getpixel((0, 0))
    assert red > 200 and blue < 50


@pytest.mark.parametrize("content, reason", [
    (b"", "empty file"),
    (b"this is a text file, not a picture", "not an image"),
    (jpeg_bytes()[:200], "truncated image"),
])
def test_bad_files_raise_one_error_naming_the_file(tmp_path, content, reason):
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    with pytest.raises(DeepfakeError, match=reason) as error:
        load_rgb_image(path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(DeepfakeError, match="no such file"):
        load_rgb_image(tmp_path / "absent.png")
    with pytest.raises(DeepfakeError, match="is a folder"):
        load_rgb_image(tmp_path)


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    side = int(MAX_IMAGE_PIXELS ** 0.5) + 100
    path = tmp_path / "bomb.png"
    Image.new("1", (side, side)).save(path)  # 1-bit: a few hundred kB on disk, gigabytes once decoded
    with pytest.raises(DeepfakeError, match="pixel limit"):
        load_rgb_image(path)


def _smooth_photo(width: int, height: int) -> Image.Image:
    """Gradients and a few soft shapes: detail at every scale, as in a photo, rather than pixel noise."""
    y, x = np.mgrid[0:height, 0:width] / max(width, height)
    pixels = np.stack([np.sin(7 * x) * np.cos(5 * y), np.cos(11 * x * y), np.sin(3 * (x + y))], axis=-1)
    return Image.fromarray(((pixels + 1) * 127.5).astype(np.uint8))


@pytest.mark.parametrize("size, shorter_side, decoded", [
    ((512, 384), 128, (512, 384)),  # 2x128 = 256 of 384: no DCT scale keeps that much
    ((1024, 768), 128, (512, 384)),  # half scale keeps 384 >= 256; a quarter would keep only 192
    ((2048, 1536), 128, (512, 384)),
    ((2048, 1536), 0, (2048, 1536)),  # 0: every pixel
])
def test_large_jpegs_decode_at_a_reduced_scale_that_keeps_twice_the_view(tmp_path, size, shorter_side, decoded):
    path = tmp_path / "large.jpg"
    _smooth_photo(*size).save(path, quality=90)
    assert load_rgb_image(path, shorter_side).size == decoded


def test_reduced_scale_decoding_leaves_pngs_whole_and_keeps_exif_orientation(tmp_path):
    _smooth_photo(1024, 512).save(tmp_path / "large.png")
    assert load_rgb_image(tmp_path / "large.png", 128).size == (1024, 512)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    _smooth_photo(1024, 512).save(tmp_path / "rotated.jpg", exif=exif)
    assert load_rgb_image(tmp_path / "rotated.jpg", 64).size == (128, 256)  # a quarter keeps 128 = 2x64


def test_reduced_scale_decoding_changes_the_resized_view_by_a_fraction_of_a_level(tmp_path):
    from deepfake.data.transforms import resize_shorter_side
    path = tmp_path / "photo.jpg"
    _smooth_photo(1024, 768).save(path, quality=95)
    full, reduced = (np.asarray(resize_shorter_side(load_rgb_image(path, side), 128), dtype=float)
                     for side in (0, 128))
    assert full.shape == reduced.shape == (128, 171, 3)
    assert np.abs(full - reduced).mean() < 1.0  # of 255 levels
