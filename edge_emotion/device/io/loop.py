"""The live loop: read -> recognise -> emit events -> draw -> save/show/serve; the source closed in finally."""

import contextlib
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator

from edge_emotion.device.engine.recognizer import EmotionRecognizer
from edge_emotion.device.engine.settings import Outputs
from edge_emotion.device.io.annotate import annotate
from edge_emotion.device.io.events import EventWriter, frame_event, selected, settings_event, typed_events
from edge_emotion.device.io.outputs import AnnotatedOutput
from edge_emotion.device.io.serve import LiveServer
from edge_emotion.device.io.sinks import Sinks
from edge_emotion.device.io.sources import Frame, FrameSource
from edge_emotion.device.io.stats import LabelTimes, RunStats
from edge_emotion.device.io.viewer import Viewer

# How a service manager or a closed terminal stops a process (Windows has no SIGHUP).
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))
FINISHING = "finishing the video…"  # said once to whoever stops a run again while its video is finished


@contextlib.contextmanager
def handling(numbers: tuple[int, ...], handler: Callable[[int, object], None]) -> Iterator[None]:
    """``handler`` for the signals ``numbers`` within the block; the previous handlers back after it.
    A signal the parent process ignores stays ignored: SIGHUP under ``nohup``, SIGINT in a background job."""
    previous = {}
    try:
        for number in numbers:
            if signal.getsignal(number) != signal.SIG_IGN:
                previous[number] = signal.signal(number, handler)
        yield
    finally:
        for number, restored in previous.items():
            signal.signal(number, restored)


class Stop:
    """What a run's stop signals do: the first stops the loop as Ctrl-C does (a KeyboardInterrupt), and
    once the loop is over (``running`` is left: stopped, ended or failed) every later one is ignored, so a
    second Ctrl-C cannot cut short the video being closed, checked and renamed into place; ``saying``
    is told once, on stderr, to whoever stops again."""

    def __init__(self, saying: str = "") -> None:
        self.saying = saying
        self.finishing = False

    def __call__(self, number: int, frame: object) -> None:
        if not self.finishing:
            self.finishing = True
            raise KeyboardInterrupt
        if self.saying:
            print(self.saying, file=sys.stderr, flush=True)
            self.saying = ""

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """The loop: at its end, however it ends, finishing begins."""
        try:
            yield
        finally:
            self.finishing = True


@contextlib.contextmanager
def stop_signals_as_ctrl_c(saying: str = "") -> Iterator[Stop]:
    """Ctrl-C, SIGTERM (systemd, ``docker stop``) and SIGHUP (a closed terminal) stop the run alike:
    the video is finished, the events kept and the summary printed, instead of the process dying
    with a hidden partial video; once finishing has begun, more of them are ignored (``Stop``), so
    a stopped run ends the same way however many arrive. Python handles signals in the main thread
    only: elsewhere nothing is handled."""
    stop = Stop(saying)
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    with handling((signal.SIGINT, *STOP_SIGNALS), stop):
        yield stop


@contextlib.contextmanager
def stops_held() -> Iterator[None]:
    """Ctrl-C and the stop signals wait for the block's end, then stop the run: a frame's event lines,
    its published events and its video frame are all written or none is, so a stopped run's video
    and events agree frame for frame. Outside the main thread (where Python delivers no signal) it
    holds nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    with handling((signal.SIGINT, *STOP_SIGNALS), lambda number, _: caught.append(number)):
        yield
    if caught:
        raise KeyboardInterrupt


def timed_frames(frames: Iterable[Frame], limit: int | None) -> Iterator[tuple[Frame, float]]:
    """Each frame with the seconds spent waiting for it, up to ``limit`` frames."""
    iterator, count = iter(frames), 0
    while limit is None or count < limit:
        started = time.perf_counter()
        frame = next(iterator, None)
        if frame is None:
            return
        yield frame, time.perf_counter() - started
        count += 1


def run_loop(
    source: FrameSource,
    recognizer: EmotionRecognizer,
    outputs: Outputs | None = None,
    *,
    server: LiveServer | None = None,
    stop: Stop | None = None,
    sinks: Sinks | None = None,
    settings: dict | None = None,
) -> dict:
    """Process frames until the source ends, ``max_frames``, q in the window, Ctrl-C or the events' reader
    going away (a closed pipe; each keeps the video and the events); return the run's stats, with the
    video frames skipped as undecodable, the seconds each tracked face spent under each label and
    whether the events' reader went away.
    ``outputs`` says where the events and annotated frames go (``events_mode`` picks the lines written,
    while a server gets every event; ``show_fps`` draws a live source's frame rate on the window and the
    served stream, never on saved files, which have their own rate); ``settings``, the run's record of
    its settings, heads the events (written with the first frame's, so a run that fails on its first
    frame writes nothing).
    ``stop`` is the caller's ``stop_signals_as_ctrl_c()``; without one the loop handles the signals itself.
    ``sinks`` (MQTT, webhook) get each frame's events too, and never make the loop wait."""
    outputs = outputs or Outputs()
    save, events_mode, landmarks = outputs.save, outputs.events_mode, outputs.landmarks
    stats, writer, times = RunStats(), EventWriter(outputs.events), LabelTimes()
    header = [] if settings is None else [settings_event(settings)]
    viewer = Viewer() if outputs.show else None
    live = source.kind in ("camera", "video")
    try:
        saving = AnnotatedOutput(save, source.kind, source.fps) if save else contextlib.nullcontext()
        saying = FINISHING if save and live else ""
        signals = stop_signals_as_ctrl_c(saying) if stop is None else contextlib.nullcontext(stop)
        with (
            signals as stopping,
            saving as output,
            contextlib.suppress(KeyboardInterrupt),
            stopping.running(),  # a stop signal after it cannot cut the video short
        ):
            for frame, waited in timed_frames(source.frames(), outputs.max_frames):
                if frame.restarted:  # a video played again (--loop): its faces left at its end
                    recognizer.end_tracks()
                faces = recognizer.predict(frame.image, frame.timestamp)
                latency = {"capture": waited, **recognizer.last_latency}
                event, typed = frame_event(frame, faces, latency), typed_events(frame, recognizer.last_events)
                streaming = server is not None and server.wants_frames
                fps = stats.fps if live and outputs.show_fps else None
                saved = shown = None  # saved files never carry the frame rate; the window and stream may
                if output is not None:
                    saved = shown = annotate(frame.image, faces, None, landmarks)
                if (viewer is not None or streaming) and (shown is None or fps is not None):
                    shown = annotate(frame.image, faces, fps, landmarks)
                with stops_held():
                    stats.add(latency)
                    times.add(frame.timestamp, faces)
                    for line in [*header, *selected(events_mode, event, typed)]:
                        writer.write(line)
                    header = []
                    if server is not None:
                        stats_now = {"frames": stats.frames, "fps": stats.fps}
                        server.publish([event, *typed], shown if streaming else None, stats_now)
                    if sinks is not None:
                        sinks.publish(event, typed)
                    if output is not None and saved is not None:
                        output.write(frame, saved)
                if writer.gone:  # the events' reader went away (a closed pipe): a stop, the video kept
                    break
                if viewer is not None and shown is not None and not viewer.show(shown):
                    break
    finally:
        source.close()
        writer.close()
        if viewer is not None:
            viewer.close()
    return {
        **stats.summary(),
        **times.summary(),
        "frames_skipped": getattr(source, "skipped", 0),
        "source_lost": bool(getattr(source, "lost", False)),
        "events_reader_gone": writer.gone,
    }
