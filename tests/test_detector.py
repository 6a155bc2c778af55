"""The face detectors: the shipped YuNet file, boxes and landmarks in frame pixels, the hard cases
(a face at the edge, a face too small, fifty faces), the real clips, and bad settings."""

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from edge_emotion.cli import app
from edge_emotion.device.engine import detector as detector_module
from edge_emotion.device.engine.detector import (
    MAX_NETS,
    PHOTO_SCALES,
    PHOTO_TILT,
    PHOTO_WIDTH,
    Found,
    HaarDetector,
    ScaledDetector,
    YuNetDetector,
    make_detector,
    shipped_yunet,
)
from edge_emotion.device.engine.recognizer import EmotionRecognizer
from edge_emotion.device.engine.settings import DetectorSettings
from edge_emotion.device.io.sources import open_video
from edge_emotion.errors import EdgeEmotionError

pytestmark = pytest.mark.device  # no TensorFlow: run in the device install too

YUNET_SHA256 = "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4"
CLIPS = Path(__file__).resolve().parents[2] / "shared" / "data" / "clips"
ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


@pytest.fixture(scope="module")
def portrait(astronaut: Path) -> np.ndarray:
    return cv2.imread(str(astronaut))


@pytest.fixture(scope="module")
def face_tile(portrait: np.ndarray) -> np.ndarray:
    """Eileen Collins' head, 200x200; her face spans about x 52-147, y 46-141."""
    return portrait[20:220, 125:325]


def test_the_shipped_yunet_is_the_published_file_with_its_licence() -> None:
    model = shipped_yunet()
    assert hashlib.sha256(model.read_bytes()).hexdigest() == YUNET_SHA256
    assert "MIT License" in (model.parent / "YUNET_LICENSE").read_text()
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"models/*.onnx"' in pyproject and '"models/YUNET_LICENSE"' in pyproject  # installed with the package


def test_yunet_finds_the_face_with_five_landmarks_in_place(portrait: np.ndarray) -> None:
    (face,) = YuNetDetector().detect(portrait)
    x, y, w, h = face.box
    assert abs(x - 180) < 15 and abs(y - 65) < 15 and 80 < w < 115 and face.score > 0.7
    right_eye, left_eye, nose, right_mouth, left_mouth = face.landmarks
    for px, py in face.landmarks:
        assert x < px < x + w and y < py < y + h
    assert right_eye[0] < nose[0] < left_eye[0] and right_mouth[0] < left_mouth[0]  # her right is our left
    assert max(right_eye[1], left_eye[1]) < nose[1] < min(right_mouth[1], left_mouth[1])


def test_boxes_and_landmarks_come_back_in_frame_pixels(portrait: np.ndarray) -> None:
    full = YuNetDetector(DetectorSettings(detect_width=portrait.shape[1])).detect(portrait)[0]
    small = YuNetDetector(DetectorSettings(detect_width=256)).detect(portrait)[0]  # searched at half the width
    assert np.abs(np.subtract(full.box, small.box)).max() < 10
    assert np.abs(np.subtract(full.landmarks, small.landmarks)).max() < 6


def test_haar_is_still_there_without_landmarks(portrait: np.ndarray) -> None:
    (face,) = make_detector(DetectorSettings("haar")).detect(portrait)
    assert face.landmarks is None and abs(face.box[0] - 177) < 15


@pytest.mark.parametrize("name", ["yunet", "haar"])
def test_a_face_smaller_than_min_face_is_dropped(name: str, portrait: np.ndarray) -> None:
    frame = np.full((480, 640, 3), 60, np.uint8)
    frame[:400, :400] = cv2.resize(portrait, (400, 400), interpolation=cv2.INTER_AREA)  # a face about 75 px wide
    (face,) = make_detector(DetectorSettings(name, detect_width=640)).detect(frame)
    assert 60 < face.box[2] < 100
    assert make_detector(DetectorSettings(name, detect_width=640, min_face=110)).detect(frame) == []


def test_a_face_cut_by_the_frame_edge(face_tile: np.ndarray) -> None:
    frame = np.full((240, 320, 3), 60, np.uint8)
    frame[20:220, :120] = face_tile[:, 80:]  # a third of the face is outside the frame
    recognizer = EmotionRecognizer(detector="yunet")
    (face,) = recognizer.predict(frame)
    x, y, w, h = face.box
    assert x == 0 and w > 0 and y + h <= 240  # clipped to the frame
    assert sum(face.probabilities.values()) == pytest.approx(1, abs=0.03)


def test_fifty_faces_in_one_frame(face_tile: np.ndarray) -> None:
    tile = cv2.resize(face_tile, (128, 128), interpolation=cv2.INTER_AREA)
    frame = np.vstack([np.hstack([tile if (r + c) % 2 else tile[:, ::-1] for c in range(10)]) for r in range(5)])
    faces = EmotionRecognizer(detector=DetectorSettings("yunet", detect_width=640)).predict(frame)
    assert len(faces) == 50
    assert all(face.landmarks is not None and face.label in face.probabilities for face in faces)


class LevelEyes(ScaledDetector):
    """Finds a "face" only where two bright dots lie level (within a pixel): an upright-only detector,
    so that what a turned search finds, and where it puts it, can be checked exactly."""

    DEFAULT_SCORE = PHOTO_SCORE = 0.5

    def search(self, small: np.ndarray, min_size: int) -> list[Found]:
        count, _, _, centres = cv2.connectedComponentsWithStats((small > 100).astype(np.uint8))
        if count != 3 or abs(centres[1][1] - centres[2][1]) > 1:
            return []
        (x1, y1), (x2, y2) = sorted(centres[1:].tolist())
        points = np.array([(x1, y1), (x2, y2), ((x1 + x2) / 2, y1 + 10), (x1, y1 + 20), (x2, y2 + 20)])
        return [((x1 - 10, y1 - 10, x2 - x1 + 20, 40), points, 0.9)]


def test_a_turned_search_finds_a_tilted_face_and_turns_its_landmarks_back() -> None:
    frame = np.zeros((240, 320), np.uint8)
    eyes = np.array([(140.0, 130.0), (140 + 40 * np.cos(np.radians(25)), 130 - 40 * np.sin(np.radians(25)))])
    for x, y in eyes:
        cv2.circle(frame, (round(x), round(y)), 3, 255, -1)
    assert LevelEyes(DetectorSettings()).detect(frame) == []  # upright only
    (face,) = LevelEyes(DetectorSettings(tilt=25)).detect(frame)  # once, not twice
    assert np.abs(np.array(face.landmarks[:2]) - eyes).max() < 1.0  # back on the dots, within a pixel
    x, y, w, h = face.box
    assert x < eyes[:, 0].min() and eyes[:, 0].max() < x + w and y < eyes[:, 1].min() and eyes[:, 1].max() < y + h


def test_a_photo_search_at_two_scales_reports_a_face_once_on_its_landmarks() -> None:
    frame = np.zeros((240, 320), np.uint8)
    eyes = np.array([(131.0, 120.0), (171.0, 120.0)])
    for x, y in eyes:
        cv2.circle(frame, (round(x), round(y)), 3, 255, -1)
    detector = LevelEyes(DetectorSettings(tilt=0, photos=True))
    assert detector.scales == PHOTO_SCALES and len(PHOTO_SCALES) > 1
    (face,) = detector.detect(frame)  # found at every scale, reported once
    assert np.abs(np.array(face.landmarks[:2]) - eyes).max() < 1.0


def test_yunet_keeps_a_few_nets_one_per_size_searched(portrait: np.ndarray) -> None:
    detector = YuNetDetector(DetectorSettings(photos=True))
    (face,) = detector.detect(portrait)
    nets = dict(detector.nets)
    assert {(512, 512), (768, 768)} <= set(nets)  # the photo's two scales
    assert detector.detect(portrait) == [face] and all(detector.nets[size] is nets[size] for size in nets)
    for width in (200, 240, 280, 320, 360):
        detector.detect(cv2.resize(portrait, (width, width)))
    assert len(detector.nets) == MAX_NETS


def test_a_tilted_head_gets_tilted_landmarks_and_one_box(portrait: np.ndarray) -> None:
    """YuNet still finds a head tilted by 40 degrees upright, with its eyes drawn level; searched turned as
    well it finds the same head once, with the eye line tilted like the head's."""
    tilted = cv2.warpAffine(portrait, cv2.getRotationMatrix2D((230, 110), 40, 1.0), (512, 512),
                            borderMode=cv2.BORDER_REPLICATE)  # fmt: skip

    def eye_line(face: object) -> float:
        (x1, y1), (x2, y2) = face.landmarks[:2]
        return float(np.degrees(np.arctan2(y2 - y1, x2 - x1)))

    (upright,) = YuNetDetector(DetectorSettings(detect_width=512)).detect(tilted)
    (turned,) = YuNetDetector(DetectorSettings(detect_width=512, tilt=25)).detect(tilted)
    assert abs(eye_line(upright)) < 10 and eye_line(turned) < -15
    assert np.abs(np.subtract(upright.box[:2], turned.box[:2])).max() < 15


def test_run_searches_an_image_turned_unless_told_not_to(portrait: np.ndarray, tmp_path: Path) -> None:
    image, events = tmp_path / "tilted.png", tmp_path / "events.jsonl"
    cv2.imwrite(str(image), cv2.warpAffine(portrait, cv2.getRotationMatrix2D((230, 110), 40, 1.0), (512, 512)))
    lines = {}
    for name, flags in (("photo", []), ("upright", ["--tilt", "0"])):
        assert runner.invoke(app, ["run", "--image", str(image), "--events", str(events), *flags]).exit_code == 0
        (face,) = json.loads(events.read_text().splitlines()[-1])["faces"]
        ((right_x, right_y), (left_x, left_y)) = face["landmarks"][:2]
        lines[name] = np.degrees(np.arctan2(left_y - right_y, left_x - right_x))
    assert lines["photo"] < -25 and lines["upright"] > -20  # the head is turned 40 degrees


def test_photos_search_wide_and_turned_streams_fast() -> None:
    photos, stream = EmotionRecognizer(photos=True).detector, EmotionRecognizer().detector
    assert (photos.default_width, photos.tilt, photos.scales) == (PHOTO_WIDTH, PHOTO_TILT, PHOTO_SCALES)
    assert (stream.default_width, stream.tilt, stream.scales) == (320, 0.0, (1.0,))
    assert (photos.min_score, stream.min_score) == (YuNetDetector.PHOTO_SCORE, YuNetDetector.DEFAULT_SCORE)
    assert photos.ratio(640) == 1.0 and photos.ratio(2560) == 0.5 and stream.ratio(640) == 0.5
    chosen = EmotionRecognizer(detector=DetectorSettings(detect_width=320, tilt=0), photos=True).detector
    assert (chosen.ratio(640), chosen.tilt) == (0.5, 0.0)  # what the user asks for wins


def test_bad_settings_and_files_are_clear_errors(tmp_path: Path, portrait: np.ndarray) -> None:
    with pytest.raises(EdgeEmotionError, match="unknown detector 'dlib'; choose one of: yunet, haar"):
        DetectorSettings("dlib")
    with pytest.raises(EdgeEmotionError, match="use 32 or more"):
        DetectorSettings(detect_width=31)
    with pytest.raises(EdgeEmotionError, match=r"--tilt -5 is out of range; use 0 \(upright only\) to 60"):
        DetectorSettings(tilt=-5)
    with pytest.raises(EdgeEmotionError, match=r"wider than the frame \(512 px\); use at most 512"):
        HaarDetector(DetectorSettings("haar", detect_width=513)).detect(portrait)
    with pytest.raises(EdgeEmotionError, match="YuNet model not found"):
        YuNetDetector(model=tmp_path / "absent.onnx")
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(shipped_yunet().read_bytes()[:5000])
    with pytest.raises(EdgeEmotionError, match="not an intact ONNX file"):
        YuNetDetector(model=broken)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--detector", "dlib"], "unknown detector 'dlib'"),
        (["--detect-width", "16"], "--detect-width 16 is too small"),
        (["--detect-width", "2000"], "--detect-width 2000 is wider than the frame (512 px)"),
        (["--tilt", "90"], "--tilt 90 is out of range"),
        (["--detector", "yunet"], "cannot load YuNet"),
    ],
)
def test_cli_bad_detector_settings(
    flags: list[str], message: str, astronaut: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07" + bytes(200))
    if message.startswith("cannot load"):
        monkeypatch.setattr(detector_module, "shipped_yunet", lambda: corrupt)
    result = runner.invoke(app, ["run", "--image", str(astronaut), *flags])
    assert result.exit_code == 1, result.output
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_events_carry_landmarks_and_the_overlay_draws_them(astronaut: Path, tmp_path: Path) -> None:
    plain, dotted, events = tmp_path / "plain.png", tmp_path / "dotted.png", tmp_path / "events.jsonl"
    for out, extra in ((plain, []), (dotted, ["--landmarks"])):
        args = ["run", "--image", str(astronaut), "--save", str(out), "--events", str(events), *extra]
        assert runner.invoke(app, args).exit_code == 0
    (face,) = json.loads(events.read_text().splitlines()[-1])["faces"]
    assert len(face["landmarks"]) == 5 and all(len(point) == 2 for point in face["landmarks"])
    x, y = map(round, face["landmarks"][2])  # the nose tip gets a dot
    difference = np.abs(cv2.imread(str(dotted)).astype(int) - cv2.imread(str(plain)).astype(int)).sum(axis=2)
    assert difference[y, x] > 0 and 0 < np.count_nonzero(difference) < 5 * 60  # five small dots
    result = runner.invoke(app, ["run", "--image", str(astronaut), "--detector", "haar"])
    assert json.loads(result.stdout.splitlines()[-1])["faces"][0]["landmarks"] is None


def test_api_options_reach_the_detector() -> None:
    recognizer = EmotionRecognizer(detector=DetectorSettings("haar", min_face=40, min_score=0.8, detect_width=200))
    detector = recognizer.detector
    assert isinstance(detector, HaarDetector)
    assert (detector.min_face, detector.min_score, detector.detect_width) == (40, 0.8, 200)
    assert isinstance(EmotionRecognizer().detector, YuNetDetector)


@pytest.mark.skipif(not CLIPS.is_dir(), reason=f"the real clips are not at {CLIPS}")
def test_real_clips_five_people_and_no_face() -> None:
    recognizer = EmotionRecognizer()
    assert len(recognizer.predict(cv2.imread(str(CLIPS / "multi_face.jpg")))) == 5
    assert len(EmotionRecognizer(photos=True).predict(cv2.imread(str(CLIPS / "multi_face.jpg")))) == 5
    source = open_video(CLIPS / "no_face.mp4")
    try:
        assert all(recognizer.predict(frame.image) == [] for frame in source.frames())
    finally:
        source.close()
