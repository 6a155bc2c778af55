"""The GPU training script's own parts: its run configs, the bundles it returns, and Keras without TensorFlow."""

import importlib.util
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

from edge_emotion.training.config import TrainConfig

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "train_on_gpu.py"


def load_script():
    spec = importlib.util.spec_from_file_location("train_on_gpu", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_member_and_student_specs_become_the_members_recipe() -> None:
    script = load_script()
    members = script.spec_configs(["g1:vgg16:3", "g2:vgg32:4"], False, 90, ())
    students = script.spec_configs(["s1:vgg16:11:0.8", "s2:vgg16:12:0.5:1.5"], True, 24, ("members/g1", "members/g2"))
    assert TrainConfig(**{**members["g2"], "teachers": ()}).arch == "vgg32"
    assert members["g1"]["seed"] == 3 and members["g1"]["epochs"] == 90 and members["g1"]["teachers"] == ()
    assert members["g1"]["learning_rate"] == 0.002 and members["g1"]["schedule"] == "cosine"
    assert students["s1"]["teachers"] == ("members/g1", "members/g2") and students["s1"]["distill_weight"] == 0.8
    assert students["s1"]["epochs"] == 24 and students["s1"]["blur"] == 0.0 == members["g1"]["blur"]
    assert students["s2"]["blur"] == 1.5 and students["s2"]["distill_weight"] == 0.5


def test_packed_faces_are_targeted_as_train_targets_them(fer_csv: Path, tmp_path: Path) -> None:
    """With FER+ votes packed, a run with a vote weight trains on the faces and targets ``edge-emotion train`` does."""
    import lzma

    import numpy as np

    from edge_emotion.training.data import load_faces

    usages = ["Training"] * 210 + ["PublicTest"] * 56 + ["PrivateTest"] * 56
    rows = [f"{u},x,{i % 3},{(i * 7) % 5},1,0,2,0,0,0,{9 * (i % 11 == 0)},0" for i, u in enumerate(usages)]
    votes = tmp_path / "ferplus.csv"
    header = "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF\n"
    votes.write_text(header + "\n".join(rows) + "\n")
    script = load_script()
    script.pack(fer_csv, tmp_path / "faces.npz.xz", votes)
    faces = dict(np.load(__import__("io").BytesIO(lzma.decompress((tmp_path / "faces.npz.xz").read_bytes()))))
    (config,) = script.spec_configs(
        ["g:vgg16:1"], False, 3, (), {"ferplus": str(votes), "ferplus_weight": 0.3, "soft_labels": True, "corrupt": 0.5}
    ).values()
    config = TrainConfig(**config)
    targeted, kept = script.targeted(script.packed(faces, "Training"), config)
    expected = load_faces(fer_csv, "Training", votes, soft=True, weight=0.3)
    assert 0 < kept.sum() < len(kept) == 210
    np.testing.assert_allclose(targeted.targets, expected.targets)
    assert np.array_equal(targeted.images, expected.images) and config.corrupt == 0.5


def test_bundles_hold_every_finished_run_and_stay_under_the_limit(tmp_path: Path, monkeypatch) -> None:
    script = load_script()
    monkeypatch.setattr(script, "BUNDLE_BYTES", 3_000)
    runs = tmp_path / "runs"
    for name in ("a", "b", "c"):
        (runs / name).mkdir(parents=True)
        (runs / name / "best.keras").write_bytes(os.urandom(2_000))
        (runs / name / "config.json").write_text(json.dumps({"arch": "vgg16"}))
        (runs / name / "last.keras").write_bytes(b"not returned")
    (runs / "unfinished").mkdir()  # no best epoch yet: nothing to return
    script.bundle(runs, tmp_path / "out")
    bundles = sorted((tmp_path / "out").iterdir())
    assert len(bundles) == 3 and all(b.stat().st_size < 3_000 for b in bundles)
    names = []
    for bundle in bundles:
        with tarfile.open(bundle) as tar:
            names += tar.getnames()
    names.sort()
    assert names == [f"{r}/{f}" for r in ("a", "b", "c") for f in ("best.keras", "config.json")]


def test_keras_on_another_backend_leaves_tensorflow_out() -> None:
    probe = (
        "import sys\n"
        "from edge_emotion.training.tf_import import import_keras\n"
        # No JAX here, so Keras may refuse to load; TensorFlow must stay out either way.
        "try:\n    import_keras()\nexcept Exception:\n    pass\n"
        "print('tensorflow' in sys.modules)"
    )
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    result = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
