"""run: the device stage's entry point, ``run_live``: a source, the recognizer, the loop, and optionally the server.

Every flag is checked before the camera opens, and no output may be an input or another output;
Ctrl-C, SIGTERM and SIGHUP stop the loop with the video finished and the events kept, and more of
them while it is finished are ignored (``loop.stop_signals_as_ctrl_c``).
"""

import contextlib
import sys
from pathlib import Path

from edge_emotion.device.events import check_mode
from edge_emotion.device.loop import FINISHING, run_loop, stop_signals_as_ctrl_c
from edge_emotion.device.outputs import check_clashes, check_target
from edge_emotion.device.recognizer import EmotionRecognizer
from edge_emotion.device.regions import FULL_SEARCH_EVERY, Regions
from edge_emotion.device.serve import LiveServer
from edge_emotion.device.sinks import open_sinks
from edge_emotion.device.sources import open_source, opencv_quiet, source_kind
from edge_emotion.device.tracker import Steadiness
from edge_emotion.errors import EdgeEmotionError


def run_live(
    *,
    camera: str | None = None,
    video: Path | None = None,
    loop: bool = False,
    realtime: bool | None = None,
    image: Path | None = None,
    folder: Path | None = None,
    model: str | Path | None = None,
    threads: int = 2,
    edgetpu: bool = False,
    detector: str = "yunet",
    detect_width: int | None = None,
    tilt: float | None = None,
    min_face: int | None = None,
    min_score: float | None = None,
    landmarks: bool = False,
    largest: bool = False,
    mirror: bool = False,
    smooth_seconds: float = Steadiness.smooth_seconds,
    hysteresis: float = Steadiness.hysteresis,
    min_frames: int = Steadiness.min_frames,
    calibrate: float = 0.0,
    track_regions: bool = False,
    full_search_every: int = FULL_SEARCH_EVERY,
    events: Path | None = None,
    events_mode: str = "all",
    save: Path | None = None,
    show: bool = False,
    show_fps: bool = True,
    max_frames: int | None = None,
    serve: str | None = None,
    token: str | None = None,
    insecure: bool = False,
    mqtt: str | None = None,
    mqtt_password: str | None = None,
    mqtt_wait: float = 0.0,
    webhook: str | None = None,
) -> dict:
    """Recognise the emotions of the faces in one source (exactly one of ``camera``, ``video``, ``image``,
    ``folder``) until it ends, ``max_frames``, q in the ``show`` window or Ctrl-C; return the run's summary.

    ``model`` is a shipped model's name (fast, accurate; default fast) or a .tflite file; ``threads``, ``edgetpu``,
    ``detector``, ``detect_width``, ``tilt``, ``min_face``, ``min_score``, ``largest`` and ``mirror``
    configure the ``EmotionRecognizer`` (an image or folder is searched as photos: wider and
    turned, unless ``detect_width`` and ``tilt`` say otherwise), and a camera or video is tracked
    with ``smooth_seconds``, ``hysteresis``, ``min_frames`` and ``calibrate`` (seconds of each new face taken as its
    neutral face), each face followed in a window around its last box and the whole frame searched every
    ``full_search_every`` frames (``track_regions``; False: every frame whole). Events go to ``events``
    (None or -: stdout) as ``events_mode`` says, annotated
    frames to ``save`` (never with the frame rate; ``show_fps`` draws it on the window and
    stream of a live source); ``loop`` replays a ``video`` from its start (its faces leave at its end);
    ``realtime`` plays a ``video`` at its own frame rate (None: with ``loop`` or ``serve``, not otherwise);
    ``serve`` (HOST:PORT)
    serves the live view and events, with ``token``
    (required off this machine unless ``insecure``).
    ``mqtt`` (mqtt[s]://[USER@]HOST[:PORT]/PREFIX, with ``mqtt_password``; the broker tried for ``mqtt_wait``
    seconds) and ``webhook`` (a URL each change event is posted to) get the events too; their counts are in
    the summary.
    """
    with contextlib.ExitStack() as stack:
        kind = source_kind(camera=camera, video=video, image=image, dir=folder)
        check_clashes(kind, {"video": video, "image": image, "dir": folder}.get(kind), save=save, events=events)
        if save is not None:
            check_target(save, kind)
        steadiness = Steadiness(smooth_seconds, hysteresis, min_frames)  # bad values fail before the camera opens
        check_mode(events_mode)
        regions = Regions(every=full_search_every) if track_regions else None
        if not 0.0 <= calibrate <= 60.0:
            raise EdgeEmotionError(f"--calibrate takes 0 to 60 seconds, got {calibrate}")
        recognizer = EmotionRecognizer(
            model, threads=threads, edgetpu=edgetpu, detector=detector, min_face=min_face, min_score=min_score,
            detect_width=detect_width, tilt=tilt, photos=kind in ("image", "dir"), largest=largest,
            mirror=mirror, track=kind in ("camera", "video"), steadiness=steadiness, calibrate_seconds=calibrate,
            regions=regions,
        )  # fmt: skip
        sinks = stack.enter_context(
            open_sinks(
                mqtt=mqtt, mqtt_password=mqtt_password, mqtt_wait=mqtt_wait, webhook=webhook, events_mode=events_mode
            )
        )
        video_out = save is not None and kind in ("camera", "video")
        stop = stack.enter_context(stop_signals_as_ctrl_c(FINISHING if video_out else ""))  # held to the end
        with opencv_quiet():
            paced = bool(loop or serve) if realtime is None else realtime
            source = open_source(camera=camera, video=video, image=image, folder=folder, loop=loop, realtime=paced)
        stack.callback(source.close)
        server = None
        if serve:
            server = stack.enter_context(
                LiveServer(serve, token=token, insecure=insecure, calibrate=recognizer.calibrate)
            )
            print(f"serving {server.url}{'?token=...' if token else ''}", file=sys.stderr, flush=True)
        summary = run_loop(
            source, recognizer, events=events, events_mode=events_mode, save=save, show=show,
            max_frames=max_frames, server=server, landmarks=landmarks, show_fps=show_fps, stop=stop, sinks=sinks,
        )  # fmt: skip
        return {**summary, **sinks.close()}
