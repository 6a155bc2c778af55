"""run: the device stage's entry point, ``run_live``: a source, the recognizer, the loop, and optionally the server.

Every setting is checked before the camera opens, and no output may be an input or another output;
Ctrl-C, SIGTERM and SIGHUP stop the loop with the video finished and the events kept, and more of
them while it is finished are ignored (``loop.stop_signals_as_ctrl_c``).
"""

import contextlib
import sys
from dataclasses import replace
from urllib.parse import urlsplit

from edge_emotion.device.engine.recognizer import EmotionRecognizer
from edge_emotion.device.engine.settings import RunSettings, as_json
from edge_emotion.device.io.loop import FINISHING, run_loop, stop_signals_as_ctrl_c
from edge_emotion.device.io.outputs import check_clashes, check_target
from edge_emotion.device.io.serve import LiveServer
from edge_emotion.device.io.sinks import open_sinks
from edge_emotion.device.io.sources import open_source, opencv_quiet, source_kind


def run_live(settings: RunSettings, *, token: str | None = None, mqtt_password: str | None = None) -> dict:
    """Recognise the emotions of the faces in the one source ``settings`` names until it ends, its
    ``max_frames``, q in the ``show`` window or Ctrl-C; return the run's summary, with the settings it ran
    with (``recorded``), which also head its events.

    An image or folder is searched as photos (wider and turned, unless the detector settings say otherwise),
    a camera or video is tracked. ``token`` guards the server (required off this machine unless
    ``insecure``), ``mqtt_password`` is the broker's; neither is recorded. MQTT's and the webhook's counts are
    in the summary.
    """
    outputs = settings.outputs
    with contextlib.ExitStack() as stack:
        kind = source_kind(camera=settings.camera, video=settings.video, image=settings.image, dir=settings.folder)
        named = {"video": settings.video, "image": settings.image, "dir": settings.folder}.get(kind)
        check_clashes(kind, named, save=outputs.save, events=outputs.events)
        if outputs.save is not None:
            check_target(outputs.save, kind)
        paced = bool(settings.loop or settings.serve) if settings.realtime is None else settings.realtime
        photos = replace(settings.detector, photos=kind in ("image", "dir"))
        settings = replace(settings, realtime=paced, detector=photos)
        recognizer = EmotionRecognizer(
            settings.model, threads=settings.threads, edgetpu=settings.edgetpu, detector=settings.detector,
            largest=settings.largest, mirror=settings.mirror, track=kind in ("camera", "video"),
            steadiness=settings.steadiness, calibrate_seconds=settings.calibrate_seconds, regions=settings.regions,
        )  # fmt: skip
        settings_record = recorded(settings, recognizer)
        sinks = stack.enter_context(
            open_sinks(
                mqtt=settings.mqtt,
                mqtt_password=mqtt_password,
                mqtt_wait=settings.mqtt_wait,
                webhook=settings.webhook,
                events_mode=outputs.events_mode,
            )
        )
        video_out = outputs.save is not None and kind in ("camera", "video")
        stop = stack.enter_context(stop_signals_as_ctrl_c(FINISHING if video_out else ""))  # held to the end
        with opencv_quiet():
            source = open_source(
                camera=settings.camera, video=settings.video, image=settings.image, folder=settings.folder,
                loop=settings.loop, realtime=paced, camera_size=settings.camera_size, fps=settings.fps,
            )  # fmt: skip
        stack.callback(source.close)
        server = None
        if settings.serve:
            server = stack.enter_context(
                LiveServer(settings.serve, token=token, insecure=settings.insecure, calibrate=recognizer.calibrate)
            )
            print(f"serving {server.url}{'?token=...' if token else ''}", file=sys.stderr, flush=True)
        summary = run_loop(source, recognizer, outputs, server=server, stop=stop, sinks=sinks, settings=settings_record)
        return {**summary, **sinks.close(), "settings": settings_record}


def recorded(settings: RunSettings, recognizer: EmotionRecognizer) -> dict:
    """What a run records of its settings: all of them as JSON, the recognizer's as it resolved them (the
    model's file, the detector's defaults filled in), and a webhook only as its scheme and host, as its path
    or query may hold a secret."""
    record = {**as_json(settings), **recognizer.resolved()}
    if settings.webhook:
        parts = urlsplit(settings.webhook)
        record["webhook"] = f"{parts.scheme}://{parts.hostname}"
    return record
