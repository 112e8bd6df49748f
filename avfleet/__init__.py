"""avfleet: classroom AV fleet monitoring and control."""

__version__ = "0.1.0"
