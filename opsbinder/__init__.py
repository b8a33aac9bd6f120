"""opsbinder: an MSP's operations binder as code."""

__version__ = "0.1.0"
