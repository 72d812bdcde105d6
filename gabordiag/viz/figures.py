"""Every figure a command draws, in one place: ``*_figure`` and ``*_plot`` functions
assemble a ``Figure`` (no pyplot, no global state) from a result object; the plot
functions in the modules named below take an ``Axes`` and return the artists.

Every word a figure prints is derived from the result it draws (see
:mod:`gabordiag.viz.captions`); labels of points are placed without overlap
(:mod:`gabordiag.viz.layout`) and legends sit outside the data.
"""

from .diagnosis import diagnosis_figure
from .kernels import gradcheck_figure, kernel_figure, kernels_plot
from .landscape import landscape_figure, landscape_plot, trajectory_path
from .landscape2d import landscape_2d_figure
from .outcomes import basins_figure, remedies_figure
from .runs import recover_figure
from .style import OUTCOME_COLOURS, STATIONARY_GID, png_bytes, save_figure

__all__ = ["OUTCOME_COLOURS", "STATIONARY_GID", "basins_figure", "diagnosis_figure",
           "gradcheck_figure", "kernel_figure", "kernels_plot", "landscape_2d_figure",
           "landscape_figure", "landscape_plot", "png_bytes", "recover_figure",
           "remedies_figure", "save_figure", "trajectory_path"]
