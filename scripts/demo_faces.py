"""Write the demo's input pictures: real faces that need nothing from the user.

scikit-image ships a public-domain NASA portrait (``astronaut``); a second picture puts
it twice, at two sizes, on a 640x480 frame so the demo shows several faces at once.
"""

import sys
from pathlib import Path

import cv2
import numpy as np
from skimage import data


def main(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    portrait = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(folder / "astronaut.png"), portrait)
    frame = np.zeros((480, 640, 3), np.uint8)
    frame[:300, :300] = cv2.resize(portrait, (300, 300))
    frame[140:, 300:] = cv2.resize(cv2.flip(portrait, 1), (340, 340))
    cv2.imwrite(str(folder / "two_faces.png"), frame)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "demo-output/input"))
