"""Tooling for the L2 regularization course (never imported by chapters or exercises)."""

__version__ = "0.1.0"
