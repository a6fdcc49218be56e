"""Shared helpers for the course notebooks, scripts and benchmarks.

One module per concern; each helper's docstring names the notebook that teaches it.
Importing this package is cheap and never imports TensorFlow, so a notebook can call
``utils.runtime.setup()`` before TensorFlow is loaded.
"""

__all__ = ["paths", "report", "runtime"]
