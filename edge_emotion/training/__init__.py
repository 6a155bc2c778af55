"""The workstation stage: data sets, model architectures, training and evaluation.

Importing this package imports no TensorFlow; the modules that need it (``pipeline``,
``models``, ``fit``) import it themselves, with an install hint when it is missing.
"""
