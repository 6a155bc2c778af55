#!/bin/bash
# One device run (device tool, carry .accel and .whl): install Keras 3 beside JAX, pick a backend that
# trains, then train the members and students named in the arguments side by side in the time left.
#   bash scripts/train_on_gpu.sh --member g1-vgg16-s3:vgg16:3 --student st1-vgg16:vgg16:11:0.5:1.5
# .whl holds keras 3.15.1, namex and optree for CPython 3.12 (pip download, see .library/device/README.md);
# .accel holds the packed faces (and FER+ votes, for --ferplus-weight): python scripts/train_on_gpu.py pack
#   --data /tmp/fer2013.csv --ferplus ../shared/data/fer2013/fer2013new.csv --out .accel/fer2013-train-public.npz.xz
set -o pipefail
T0=$(date +%s)
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1
nvidia-smi -L; nproc
for b in jax torch; do
  KERAS_BACKEND=$b timeout 150 python3 -c "
import keras, numpy as np
m = keras.Sequential([keras.Input((48, 48, 1)), keras.layers.Conv2D(8, 3), keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(7, activation='softmax')])
m.compile('adam', 'categorical_crossentropy'); m.fit(np.zeros((256, 48, 48, 1)), np.eye(7)[np.zeros(256, int)], verbose=0)
print('backend ok:', keras.backend.backend(), keras.__version__)" && export KERAS_BACKEND=$b && break
done
MINUTES=$(python3 -c "print(round((${GPU_SECONDS:-555} - ($(date +%s) - $T0)) / 60, 2))"); echo "training for $MINUTES minutes"
timeout -s KILL $((${GPU_SECONDS:-555} + 15)) python3 scripts/train_on_gpu.py train --faces .accel/fer2013-train-public.npz.xz \
  --runs /tmp/runs --minutes "$MINUTES" --bundle "$OUT" "$@" 2>&1 | tee "$OUT/log.txt" | grep -Ev " epoch ([0-9]*[1-9])/"
if ! ls "$OUT"/runs-*.tar.gz >/dev/null 2>&1; then  # the script died before bundling: take what is there
  cd /tmp/runs && tar czf "$OUT/runs-partial.tar.gz" */best.keras */*.json */*.csv */train.log
fi
ls -la "$OUT"
