"""One ``edge-emotion`` process for the distributed tests: the tiny test architecture registered, then the command.

    python tests/distributed_worker.py [--cpus N] train --arch tiny-test ...

``--cpus N`` splits the CPU into N logical devices first (for ``--strategy mirrored``).
EDGE_EMOTION_TEST_EXIT_AFTER_EPOCH=K makes this worker vanish, as a crashed machine would,
right after it backed up epoch K.
"""

import os
import sys

from fakes import register_tiny_arch


def main() -> None:
    args = sys.argv[1:]
    if args[0] == "--cpus":
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * int(args[1]))
        args = args[2:]
    exit_after = int(os.environ.get("EDGE_EMOTION_TEST_EXIT_AFTER_EPOCH", 0))
    if exit_after:
        import keras

        backed_up = keras.callbacks.BackupAndRestore.on_epoch_end

        def on_epoch_end(self: keras.callbacks.BackupAndRestore, epoch: int, logs: dict | None = None) -> None:
            backed_up(self, epoch, logs)
            if epoch + 1 == exit_after:
                os._exit(3)

        keras.callbacks.BackupAndRestore.on_epoch_end = on_epoch_end
    register_tiny_arch()
    from edge_emotion.cli import app

    sys.argv = ["edge-emotion", *args]
    app()


if __name__ == "__main__":
    main()
