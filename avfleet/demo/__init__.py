"""`avfleet demo`: the emulated county (avfleet.demo.county), its devices and agents (fleet), the
broker it starts (broker) and the wiring that runs them beside a controller (run).

The controller never imports this package.
"""
