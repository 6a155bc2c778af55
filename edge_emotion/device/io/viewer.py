"""An optional window for ``--show``, only where a display exists (a Pi over SSH has none)."""

import logging
import os

import cv2
import numpy as np

log = logging.getLogger(__name__)
WINDOW = "edge-emotion"


class Viewer:
    """Shows frames in a window; turns itself off, with one warning, where no window can open
    (no DISPLAY, or OpenCV built headless). ``show`` returns False when the user pressed q."""

    def __init__(self) -> None:
        self.enabled = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
        if not self.enabled:
            log.warning("--show: no display here; running headless (use --save or --serve to see frames)")

    def show(self, image: np.ndarray) -> bool:
        if not self.enabled:
            return True
        try:
            cv2.imshow(WINDOW, image)
            return cv2.waitKey(1) & 0xFF != ord("q")
        except cv2.error:
            log.warning("--show: this OpenCV cannot open windows (headless build); running headless")
            self.enabled = False
            return True

    def close(self) -> None:
        if self.enabled:
            cv2.destroyAllWindows()
