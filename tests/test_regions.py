"""Region tracking: faces followed in windows around their last boxes, the whole frame searched every N frames."""

import json
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from edge_emotion.cli import app
from edge_emotion.device.engine.detector import YuNetDetector
from edge_emotion.device.engine.recognizer import EmotionRecognizer
from edge_emotion.device.engine.regions import HUNT, Regions, RegionSearch
from edge_emotion.device.engine.regions import roll as regions_roll
from edge_emotion.device.engine.settings import Outputs, Steadiness
from edge_emotion.device.io import live
from edge_emotion.device.io.loop import run_loop
from edge_emotion.device.io.sources import open_video
from edge_emotion.errors import EdgeEmotionError

pytestmark = pytest.mark.device  # no TensorFlow: run in the device install too

ASTRONAUT = Path(__file__).parent / "data" / "astronaut.jpg"  # the conftest's public-domain photograph
PORTRAIT = cv2.imread(str(ASTRONAUT))[20:240, 130:330]  # the face, with some room
runner = CliRunner()


def scene(*faces: tuple[int, int, int]) -> np.ndarray:
    """A 640x480 grey frame with the astronaut's face at each (x, y, width)."""
    frame = np.full((480, 640, 3), 70, np.uint8)
    for x, y, width in faces:
        tile = cv2.resize(PORTRAIT, (width, round(width * 1.1)), interpolation=cv2.INTER_AREA)
        frame[y : y + tile.shape[0], x : x + tile.shape[1]] = tile
    return frame


def drifting(frames: int, width: int = 130) -> list[np.ndarray]:
    """One face drifting right and down 3 px a frame."""
    return [scene((60 + 3 * i, 80 + i, width)) for i in range(frames)]


def near(box: tuple[int, int, int, int], x: int, y: int, width: int) -> bool:
    return abs(box[0] + box[2] / 2 - x - width / 2) < width / 3 and abs(box[1] - y) < width


def stream(**options: object) -> EmotionRecognizer:
    """A tracked stream, with region tracking unless ``regions`` says otherwise (it is opt-in)."""
    return EmotionRecognizer(track=True, steadiness=Steadiness(min_frames=1), **{"regions": Regions(), **options})


def test_the_same_faces_with_a_fraction_of_the_full_searches() -> None:
    frames = drifting(40)
    tracked, every = stream(), stream(regions=None)
    found = {"tracked": [], "every": []}
    for index, frame in enumerate(frames):
        found["tracked"].append(tracked.predict(frame, index / 30))
        found["every"].append(every.predict(frame, index / 30))
    assert all(len(faces) == 1 for faces in found["every"])
    assert all(
        len(faces) == 1 and near(faces[0].box, 60 + 3 * i, 80 + i, 130) for i, faces in enumerate(found["tracked"])
    )
    assert all(faces[0].landmarks is not None for faces in found["tracked"])  # fresh landmarks for the alignment
    search = tracked.search
    assert isinstance(search, RegionSearch) and search.frames == 40
    assert search.full_searches == 2  # frames 0 and 30
    assert search.windows < 25  # a followed face's window every other frame
    assert {faces[0].id for faces in found["tracked"]} == {1}  # one id throughout


def test_a_new_face_appears_within_n_frames() -> None:
    search = RegionSearch(YuNetDetector(), Regions(every=5))
    for index in range(3):
        assert len(search.detect(scene((60 + index, 80, 130)))) == 1
    arrivals = []
    for index in range(3, 12):
        arrivals.append(len(search.detect(scene((60 + index, 80, 130), (400, 150, 150)))))
    first = arrivals.index(2)
    assert 0 < first <= 5 and all(count == 2 for count in arrivals[first:])  # found at the next full search


def test_a_lost_face_costs_one_full_search_then_a_wide_window() -> None:
    search = RegionSearch(YuNetDetector(), Regions(every=50, window_every=1))
    for index in range(5):
        search.detect(scene((60 + index, 80, 130)))
    assert search.full_searches == 1 and not search.last_full
    # The face jumps across the frame: its window and a window twice as wide lose it; a full search on the same
    # frame finds it.
    windows = search.windows
    (moved,) = search.detect(scene((420, 200, 130)))
    assert search.last_full and near(moved.box, 420, 200, 130) and search.windows - windows == 2
    # Where it was is looked for in a wide window while the tracker keeps its id; no more full searches.
    fulls, windows = search.full_searches, search.windows
    assert all(len(search.detect(scene((421 + i, 200, 130)))) == 1 for i in range(HUNT + 2))
    assert search.full_searches == fulls and not search.last_full
    assert search.windows - windows == (HUNT + 2) + HUNT  # its own window each frame, the lost one's HUNT frames
    fulls = search.full_searches
    empty = [search.detect(scene()) for _ in range(HUNT + 3)]
    assert empty == [[]] * (HUNT + 3)
    assert search.full_searches - fulls == 1  # gone: one full search at once, then none


def test_a_face_that_moved_fast_is_found_in_a_wider_window() -> None:
    search = RegionSearch(YuNetDetector(), Regions(every=50, window_every=1))
    for index in range(5):
        search.detect(scene((200 + index, 150, 130)))
    (moved,) = search.detect(scene((260, 150, 130)))  # a face's width to the right: out of its window's reach
    assert near(moved.box, 260, 150, 130) and search.full_searches == 1 and not search.last_full
    # the widest window a user may set is doubled for a lost face too
    wide = RegionSearch(YuNetDetector(), Regions(every=50, margin=4.0, window_every=1))
    for index in range(5):
        wide.detect(scene((200 + index, 150, 130)))
    assert wide.detect(scene()) == [] and wide.full_searches == 2


def test_a_turned_face_is_searched_upright_in_its_window() -> None:
    """Turned 35 degrees in the picture's plane, the face is lost by an upright window tight around it (and costs a
    full search each time); its window, turned with it, keeps it with one full search in all."""

    def turned(degrees: float) -> np.ndarray:
        frame = scene((255, 150, 130))
        matrix = cv2.getRotationMatrix2D((320, 221), degrees, 1.0)
        return cv2.warpAffine(frame, matrix, (640, 480), borderMode=cv2.BORDER_REPLICATE)

    search = RegionSearch(YuNetDetector(), Regions(every=50, window_every=1))
    angles = [min(35, 5 * i) for i in range(26)]
    found = [search.detect(turned(angle)) for angle in angles]
    assert all(len(faces) == 1 for faces in found) and search.full_searches == 1
    assert regions_roll(found[-1][0]) < -20  # the window turned with the face (YuNet's landmarks understate a turn)


def test_a_followed_face_moves_on_between_its_windows() -> None:
    search = RegionSearch(YuNetDetector(), Regions(every=50, window_every=2))
    frames = drifting(12)
    found = [search.detect(frame) for frame in frames]
    assert search.full_searches == 1 and search.windows == 6  # frames 1 and 2, then every other frame
    assert all(len(faces) == 1 and near(faces[0].box, 60 + 3 * i, 80 + i, 130) for i, faces in enumerate(found))
    (x, y, _, _), (x2, y2, _, _) = found[4][0].box, found[5][0].box  # a window, then moved on by 3 and 1 px
    assert abs(x2 - x - 3) <= 1 and abs(y2 - y - 1) <= 1
    assert found[5][0].landmarks[0][0] - found[4][0].landmarks[0][0] == pytest.approx(x2 - x, abs=1)
    # A face only just found that its window loses is dropped, without a full search: a false face often is.
    search = RegionSearch(YuNetDetector(), Regions(every=50))
    search.detect(frames[0])
    assert search.detect(scene()) == [] and search.full_searches == 1


def test_ids_stay_through_region_tracking_and_full_searches() -> None:
    recognizer = stream(regions=Regions(every=4))
    ids = []
    for index, frame in enumerate(
        drifting(30, width=100) + [scene((150 + 2 * i, 110, 100 + 2 * i)) for i in range(20)]
    ):
        ids += [face.id for face in recognizer.predict(frame, index / 30)]
    assert len(ids) == 50 and set(ids) == {1}


def test_small_faces_are_found_in_their_windows() -> None:
    """A 64 px face in a 640x480 frame: searched whole at 320 px it is 32 px there and missed; its
    window makes it large again."""
    frames = [scene((100 + 2 * i, 200, 64)) for i in range(20)]
    every = stream(regions=None)
    assert sum(len(every.predict(frame, i / 30)) for i, frame in enumerate(frames)) < 10
    tracked = stream()
    assert all(len(tracked.predict(frame, i / 30)) == 1 for i, frame in enumerate(frames))


def test_without_region_tracking_every_frame_is_searched_as_before() -> None:
    recognizer = stream(regions=None)
    assert recognizer.search is recognizer.detector
    detector = YuNetDetector()
    for index, frame in enumerate(drifting(5)):
        assert [f.box for f in recognizer.predict(frame, index / 30)] == [d.box for d in detector.detect(frame)]
    photos = EmotionRecognizer(photos=True)  # photos stand alone: searched in full
    assert photos.search is photos.detector


@pytest.mark.parametrize("every", [0, -1, 1001])
def test_bad_settings_are_one_error(every: int) -> None:
    with pytest.raises(EdgeEmotionError, match="--full-search-every"):
        Regions(every=every)
    result = runner.invoke(app, ["run", "--camera", "0", "--track-regions", "--full-search-every", str(every)])
    assert isinstance(result.exception, SystemExit) and result.exception.code == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: --full-search-every")  # before the camera: no camera here to open


def test_the_cli_passes_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []

    def recognizer(*args: object, **options: object) -> None:
        seen.append(options["regions"])
        raise EdgeEmotionError("stop here")

    monkeypatch.setattr(live, "EmotionRecognizer", recognizer)
    runner.invoke(app, ["run", "--camera", "0", "--track-regions", "--full-search-every", "7"])
    runner.invoke(app, ["run", "--camera", "0", "--no-track-regions"])
    runner.invoke(app, ["run", "--camera", "0"])  # on by default: half the cost of a whole search, more faces
    assert seen == [Regions(every=7), None, Regions()]


def write_video(path: Path, frames: list[np.ndarray], fps: float = 30.0) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (frames[0].shape[1], frames[0].shape[0]))
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def test_realtime_plays_a_video_at_its_own_rate(tmp_path: Path) -> None:
    clip = write_video(tmp_path / "clip.avi", [np.full((48, 64, 3), i, np.uint8) for i in range(12)], fps=20.0)
    for realtime, slowest in ((True, 0.5), (False, 0.0)):
        source = open_video(clip, realtime=realtime)
        started = time.monotonic()
        assert len(list(source.frames())) == 12
        took = time.monotonic() - started
        source.close()
        assert took >= slowest and (realtime or took < 0.3)  # 11 frame intervals of 50 ms, or as fast as read


def test_a_looped_video_ends_its_faces_at_its_end(tmp_path: Path) -> None:
    clip = write_video(tmp_path / "face.avi", [scene((200 + i, 120, 140)) for i in range(8)])
    recognizer = stream()
    events = tmp_path / "events.jsonl"
    run_loop(open_video(clip, loop=True), recognizer, Outputs(events=events, events_mode="changes", max_frames=20))
    kinds = [(line["event"], line["id"]) for line in map(json.loads, events.read_text().splitlines())]
    assert kinds[:3] == [("face_enter", 1), ("face_leave", 1), ("face_enter", 2)]  # at the wrap: a leave, a new face
    assert not any(kind == "change" for kind, _ in kinds)


def test_the_cli_paces_a_looped_or_served_video_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clip = write_video(tmp_path / "clip.avi", [np.full((48, 64, 3), 9, np.uint8)] * 3)
    paced = []

    def opened(**options: object) -> None:
        paced.append(options["realtime"])
        raise EdgeEmotionError("stop here")

    monkeypatch.setattr(live, "open_source", opened)
    for flags in ([], ["--loop"], ["--loop", "--no-realtime"], ["--realtime"]):
        runner.invoke(app, ["run", "--video", str(clip), *flags])
    assert paced == [False, True, False, True]
