"""Check the MesoNet port against Keras itself: same images, outputs within 1e-4.

Needs TensorFlow, which the project does not depend on; run it from an environment that has it:
    python -m venv /tmp/tf && /tmp/tf/bin/pip install tensorflow-cpu pillow numpy h5py
    /tmp/tf/bin/python experiments/mesonet_keras_parity.py ../shared/anchors/mesonet CONVERTED_DIR [.venv/bin/python]
where CONVERTED_DIR holds the four files written by `python -m deepfake.convert mesonet`
(Meso4_DF.safetensors, ...), scored by the project's own predict.py under the project's Python.
Prints Keras' P(fake) = 1 - its output, ours, and the largest difference per model.
The Keras models are rebuilt from MesoNet's classifiers.py (the .h5 files hold weights only).
"""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image


def keras_meso4(layers):
    x = layers.Input(shape=(256, 256, 3))
    y = x
    for filters, kernel, pool in ((8, 3, 2), (8, 5, 2), (16, 5, 2), (16, 5, 4)):
        y = layers.Conv2D(filters, (kernel, kernel), padding="same", activation="relu")(y)
        y = layers.BatchNormalization()(y)
        y = layers.MaxPooling2D(pool_size=(pool, pool), padding="same")(y)
    return x, y


def keras_mesoinception4(layers):
    def inception(a, b, c, d):
        def apply(x):
            x1 = layers.Conv2D(a, (1, 1), padding="same", activation="relu")(x)
            x2 = layers.Conv2D(b, (1, 1), padding="same", activation="relu")(x)
            x2 = layers.Conv2D(b, (3, 3), padding="same", activation="relu")(x2)
            x3 = layers.Conv2D(c, (1, 1), padding="same", activation="relu")(x)
            x3 = layers.Conv2D(c, (3, 3), dilation_rate=2, padding="same", activation="relu")(x3)
            x4 = layers.Conv2D(d, (1, 1), padding="same", activation="relu")(x)
            x4 = layers.Conv2D(d, (3, 3), dilation_rate=3, padding="same", activation="relu")(x4)
            return layers.Concatenate(axis=-1)([x1, x2, x3, x4])
        return apply

    x = layers.Input(shape=(256, 256, 3))
    y = x
    for block in (inception(1, 4, 4, 2), inception(2, 4, 4, 2)):
        y = layers.MaxPooling2D(pool_size=(2, 2), padding="same")(layers.BatchNormalization()(block(y)))
    for pool in (2, 4):
        y = layers.Conv2D(16, (5, 5), padding="same", activation="relu")(y)
        y = layers.MaxPooling2D(pool_size=(pool, pool), padding="same")(layers.BatchNormalization()(y))
    return x, y


def keras_model(name):
    from keras import Model, layers
    x, y = (keras_mesoinception4 if "Inception" in name else keras_meso4)(layers)
    y = layers.Flatten()(y)
    y = layers.Dropout(0.5)(y)
    y = layers.LeakyReLU(negative_slope=0.1)(layers.Dense(16)(y))
    y = layers.Dense(1, activation="sigmoid")(layers.Dropout(0.5)(y))
    return Model(inputs=x, outputs=y)


def load_weights_in_creation_order(model, h5_path):
    """Keras 3 cannot read Keras 2.1 weight files by topology; assign by creation order like our converter."""
    import h5py
    with h5py.File(h5_path, "r") as h5:
        groups = {n.decode(): h5[n.decode()] for n in h5.attrs["layer_names"]}
        def ordered(kind):
            names = [n for n in groups if n.startswith(kind) and groups[n].attrs["weight_names"].size]
            return [groups[n] for n in sorted(names, key=lambda n: int(n.rsplit("_", 1)[1]))]
        for kind, keras_type in (("conv2d", "Conv2D"), ("batch_normalization", "BatchNormalization"),
                                 ("dense", "Dense")):
            ours = sorted((layer for layer in model.layers if type(layer).__name__ == keras_type),
                          key=lambda layer: int(layer.name[len(kind) + 1:] or 0))  # conv2d, conv2d_1, ...
            for layer, group in zip(ours, ordered(kind)):
                layer.set_weights([np.asarray(group[w.decode()]) for w in group.attrs["weight_names"]])


def main(anchors: Path, converted: Path, project_python: str) -> None:
    images = sorted((anchors / "test_images").glob("*/*.jpg"))
    batch = np.stack([np.asarray(Image.open(p).convert("RGB").resize((256, 256)), dtype=np.float32) / 255
                      for p in images])
    results = {}
    for name in ("Meso4_DF", "Meso4_F2F", "MesoInception_DF", "MesoInception_F2F"):
        model = keras_model(name)
        load_weights_in_creation_order(model, anchors / "weights" / f"{name}.h5")
        keras_fake = 1 - model.predict(batch, verbose=0)[:, 0]
        ours = [json.loads(line)["fake_probability"] for line in subprocess.run(
            [project_python, "predict.py", "--json", "--image_path", str(anchors / "test_images"),
             "--weights", str(converted / f"{name}.safetensors")],
            capture_output=True, text=True, check=True).stdout.splitlines()]
        results[name] = {"keras_p_fake": [round(float(v), 6) for v in keras_fake], "ours_p_fake": ours,
                         "max_abs_difference": float(np.max(np.abs(keras_fake - np.array(ours))))}
    print(json.dumps({"images": [p.name for p in images], **results}, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else ".venv/bin/python")
