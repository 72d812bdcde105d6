"""Exact evaluation engines for a problem's loss, gradient and curvature, and the
choice between them (:mod:`~gabordiag.engines.choice`)."""
