"""Rich renderings of the analysis results, one module per command."""
