"""The workstation stage: model architectures, training, distillation, ensemble members and evaluation.

Importing this package imports no TensorFlow; the modules that need it (``pipeline``,
``models``, ``fit``) import it themselves through ``edge_emotion.tf_import``, with an install
hint when it is missing. The data sets (``edge_emotion.data``) live at the package root:
``convert`` and ``evaluate`` read them too.
"""
