"""enroll-opt: which SKUs to enroll in which 1688.com programs, and at what price."""

__version__ = "0.1.0"
