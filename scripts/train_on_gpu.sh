#!/bin/bash
# The device run of 2026-11-30 (device tool, carry .accel and .whl): install Keras 3 beside JAX, pick a
# backend that trains, then train eight members and four students side by side in the time left.
# .whl holds keras 3.15.1, namex and optree for CPython 3.12 (pip download, see .library/device/README.md);
# .accel holds the packed faces: python scripts/train_on_gpu.py pack --data /tmp/fer2013.csv --out .accel/fer2013-train-public.npz.xz
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
MINUTES=$(python3 -c "print(round((555 - ($(date +%s) - $T0)) / 60, 2))"); echo "training for $MINUTES minutes"
timeout -s KILL 570 python3 scripts/train_on_gpu.py train --faces .accel/fer2013-train-public.npz.xz --runs /tmp/runs \
  --member g1-vgg16-s3:vgg16:3 --member g2-vgg16-s4:vgg16:4 --member g3-vgg16-s5:vgg16:5 \
  --member g4-vgg20-s1:vgg20:1 --member g5-vgg20-s2:vgg20:2 --member g6-vgg24-s1:vgg24:1 \
  --member g7-vgg24-s2:vgg24:2 --member g8-vgg32-s1:vgg32:1 \
  --student st1-vgg16-w05-s1:vgg16:11:0.5 --student st2-vgg16-w08-s1:vgg16:12:0.8 \
  --student st3-vgg16-w08-s2:vgg16:13:0.8 --student st4-vgg16-w10-s1:vgg16:14:1.0 \
  --minutes "$MINUTES" --student-minutes 3.4 --bundle "$OUT" 2>&1 | tee "$OUT/log.txt" \
  | grep -Ev " epoch ([0-9]*[1-9])/"
if ! ls "$OUT"/runs-*.tar.gz >/dev/null 2>&1; then  # the script died before bundling: take what is there
  cd /tmp/runs && tar czf "$OUT/members.tar.gz" g*/best.keras g*/*.json g*/*.csv g*/train.log; tar czf "$OUT/students.tar.gz" st*/best.keras st*/*.json st*/*.csv st*/train.log
fi
ls -la "$OUT"
