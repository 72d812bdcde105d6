"""The analyses a user runs, each on a :class:`~gabordiag.analysis.study.Study` built once
from a Config: recover, landscape, stability facts, basins, remedies, gradcheck,
diagnose and check."""
