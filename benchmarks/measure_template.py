"""Where FER2013 puts a face: the template that preprocess.align_face maps every detected face onto.

Each sampled Training face (48x48) is upscaled 4x and padded by mirroring its edges, so that
the detectors see a face with some surroundings, as in a frame; YuNet's five landmarks and the
Haar cascade's box are mapped back into the 48x48 face's pixel coordinates (pixel centres at
integers). The medians become preprocess.FER_LANDMARKS and FER_BOX; the spread says how tightly
FER2013 frames its faces.

    python benchmarks/measure_template.py [--faces 3000]
"""

import argparse

import cv2
import numpy as np
from common import fer_csv, save

from edge_emotion.device.engine.detector import Detection, HaarDetector, YuNetDetector
from edge_emotion.device.engine.settings import DetectorSettings
from edge_emotion.preprocess import INPUT_SIZE, pixel_centres
from edge_emotion.training.data import load_faces

POINTS = ("right_eye", "left_eye", "nose", "right_mouth", "left_mouth")


def canvas(face: np.ndarray, upscale: int, pad: int) -> np.ndarray:
    big = cv2.resize(face, None, fx=upscale, fy=upscale, interpolation=cv2.INTER_CUBIC)
    return cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_REFLECT)


def central(found: list[Detection], centre: float) -> Detection | None:
    """The detection nearest the canvas centre: the face itself, not one in the mirrored border."""

    def distance(face: Detection) -> float:
        return (face.box[0] + face.box[2] / 2 - centre) ** 2 + (face.box[1] + face.box[3] / 2 - centre) ** 2

    return min(found, key=distance, default=None)


def spread(values: np.ndarray) -> dict:
    """Median and quartiles of each column, rounded to 0.01 px."""
    quartiles = np.percentile(values, [25, 50, 75], axis=0).round(2)
    return {"median": quartiles[1].tolist(), "p25": quartiles[0].tolist(), "p75": quartiles[2].tolist()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=3000, help="Training faces to sample")
    parser.add_argument("--upscale", type=int, default=4)
    parser.add_argument("--pad", type=int, default=64, help="pixels of mirrored border around the upscaled face")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    images = load_faces(fer_csv(), "Training").images
    sample = np.random.default_rng(args.seed).choice(len(images), min(args.faces, len(images)), replace=False)
    width = INPUT_SIZE * args.upscale + 2 * args.pad
    yunet = YuNetDetector(DetectorSettings(detect_width=width))
    haar = HaarDetector(DetectorSettings("haar", detect_width=width))
    landmarks, boxes, yunet_boxes = [], [], []
    for index in sample:
        frame = canvas(images[index], args.upscale, args.pad)
        face = central(yunet.detect(frame), width / 2)
        if face is not None:
            landmarks.append(pixel_centres(np.array(face.landmarks) - args.pad, 1 / args.upscale))
            yunet_boxes.append((np.array(face.box) - [args.pad, args.pad, 0, 0]) / args.upscale)
        face = central(haar.detect(frame), width / 2)
        if face is not None:
            x, y, w, h = (np.array(face.box) - [args.pad, args.pad, 0, 0]) / args.upscale
            boxes.append((x + w / 2 - 0.5, y + h / 2 - 0.5, w))  # centre (pixel-centre coordinates), width
    points = np.array(landmarks)
    eyes = points[:, 1] - points[:, 0]
    figures = {
        "data": "FER2013 Training",
        "faces": len(sample),
        "canvas": f"48x48 face upscaled {args.upscale}x (cubic), {args.pad} px mirrored border: {width}x{width}",
        "yunet": {
            "found": len(points),
            "found_share": round(len(points) / len(sample), 4),
            "landmarks_48px": {name: spread(points[:, i]) for i, name in enumerate(POINTS)},
            "eye_distance_48px": spread(np.hypot(*eyes.T)),
            "roll_degrees": spread(np.degrees(np.arctan2(eyes[:, 1], eyes[:, 0]))),
            "box_48px_x_y_w_h": spread(np.array(yunet_boxes)),
        },
        "haar": {
            "found": len(boxes),
            "found_share": round(len(boxes) / len(sample), 4),
            "box_48px_centre_x_y_width": spread(np.array(boxes)),
        },
    }
    save("face_template", figures)
    template = np.median(points, axis=0).round(1).tolist()
    print(f"FER_LANDMARKS = np.array({template}, np.float32)")
    print(f"FER_BOX = {tuple(np.median(np.array(boxes), axis=0).round(2).tolist())}")


if __name__ == "__main__":
    main()
