"""Figures (matplotlib: functions take an Axes and return the artists), reports and
JUnit XML: renderings of analysis results, apart from the numerical core."""
