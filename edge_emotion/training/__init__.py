"""The workstation stage: data sets, model architectures, training, distillation, ensemble members and evaluation.

Importing this package imports no TensorFlow; the modules that need it (``pipeline``,
``models``, ``fit``) import it themselves through ``edge_emotion.training.tf_import``, with an install
hint when it is missing. ``convert`` reads the data sets (``edge_emotion.training.data``) and imports
TensorFlow from here too. Nothing the device imports comes from this package.
"""
