"""tools/content_matched.py, the photographs issue's benchmark, on small synthetic folders: a row per real source
(photos against their reconstructions) and per subject-matched set, each with the share of reals flagged."""
import numpy as np

from conftest import load_tool, synthetic_image


def test_the_benchmark_has_a_row_per_piece_and_states_the_headline(trained_checkpoint, tmp_path):
    tool = load_tool("content_matched")
    rng = np.random.default_rng(0)
    for root in (tmp_path / "aligned" / "pool" / "camera", tmp_path / "shared" / "diffusion-coco"):
        for label, folder in enumerate(("real", "fake")):
            (root / folder).mkdir(parents=True)
            for index in range(12):
                synthetic_image(rng, fake=bool(label), size=48).save(root / folder / f"{index}.png")
    rows = tool.measure(trained_checkpoint, tmp_path / "aligned", tmp_path / "shared", show_progress=False)
    assert [row["source"] for row in rows["aligned"]] == ["camera"] and rows["aligned"][0]["n_pairs"] == 12
    assert [row["set"] for row in rows["subject"]] == ["diffusion-coco"]
    assert rows["aligned"][0]["roc_auc"] > 0.9  # the fixture's checker pattern: the tiny model sees it
    assert 0 <= rows["aligned"][0]["reals_flagged"] <= 1 and rows["subject"][0]["n_real"] < 12  # the val side
    table = tool.markdown(rows, trained_checkpoint, 0.5)
    assert "worst content-matched ROC-AUC" in table and table.count("\n| (") == 2
    assert not tool.counted(rows["subject"][0])  # a handful of validation images: shown, not counted
    assert tool.headline(rows)["worst_roc_auc"] == rows["aligned"][0]["roc_auc"]
