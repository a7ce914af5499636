"""driftd: configuration drift detection for databases."""

__version__ = "0.1.0"
