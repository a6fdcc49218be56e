"""Infrastructure: runtime setup, paths, headline figures, plots, video, profiling, the CLI.

The bottom layer: these modules import nothing from ``utils`` but each other and
``utils.bootstrap``.
"""
