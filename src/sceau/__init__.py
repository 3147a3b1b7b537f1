"""sceau: a complete, self-hostable Sigstore in one Python package."""

__version__ = "0.1.0"
