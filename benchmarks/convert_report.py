"""float32 / float16 / int8 side by side: size, accuracy on PublicTest and PrivateTest, agreement
with the float model, and LiteRT latency per face at 1 and 2 threads.

    python benchmarks/convert_report.py RUN_FOLDER
"""

import argparse
import tempfile
from pathlib import Path

from common import batch1_faces_per_second, fer_csv, save

from edge_emotion.convert.check import compare
from edge_emotion.convert.export import convert
from edge_emotion.device.engine.classifier import Classifier
from edge_emotion.preprocess import scale
from edge_emotion.training.data import load_faces
from edge_emotion.training.resolve import load_model

SPLITS = ("PublicTest", "PrivateTest")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    args = parser.parse_args()
    data = fer_csv()
    model = load_model(args.run, keras=True)
    faces = {split: load_faces(data, split) for split in SPLITS}
    float_probs = {split: model.predict(faces[split]) for split in SPLITS}
    rows = {}
    with tempfile.TemporaryDirectory() as folder:
        for mode in ("float32", "float16", "int8"):
            path = Path(folder) / f"{mode}.tflite"
            convert(sources=args.run, out=path, mode=mode, data=data, max_drop=100.0)
            row = {"bytes": path.stat().st_size}
            for split in SPLITS:
                converted = Classifier(path).predict(scale(faces[split].images))
                row[split] = compare(float_probs[split], converted, faces[split].labels)
            inputs = scale(faces["PublicTest"].images[:500])
            for threads in (1, 2):
                classifier = Classifier(path, threads=threads)
                rate = batch1_faces_per_second(classifier.predict, inputs)
                row[f"ms_per_face_{threads}_threads"] = round(1000 / rate, 3)
            rows[mode] = row
    save("convert_report", {"run": str(args.run), "arch": model.config.arch, "models": rows})
    print(f"\n{'mode':8} {'KB':>7} {'Public acc':>10} {'Private acc':>11} {'agree':>6} {'ms 1t':>7} {'ms 2t':>7}")
    for mode, row in rows.items():
        public, private = row["PublicTest"], row["PrivateTest"]
        print(
            f"{mode:8} {row['bytes'] / 1024:7.0f} {public['converted_accuracy']:10.4f} "
            f"{private['converted_accuracy']:11.4f} {private['top1_agreement']:6.3f} "
            f"{row['ms_per_face_1_threads']:7.3f} {row['ms_per_face_2_threads']:7.3f}"
        )
    print(
        f"float Keras accuracy: PublicTest {rows['int8']['PublicTest']['float_accuracy']:.4f}, "
        f"PrivateTest {rows['int8']['PrivateTest']['float_accuracy']:.4f}"
    )


if __name__ == "__main__":
    main()
