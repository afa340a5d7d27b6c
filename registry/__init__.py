"""Talent credential mutual-recognition registry for the Yangtze River Delta provinces."""

__version__ = "0.1.0"
