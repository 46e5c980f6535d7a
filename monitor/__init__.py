"""ragmon's library: ports, adapters, analyses and the history store. No CLI here."""

__version__ = "0.1.0"
