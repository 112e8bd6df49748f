"""`avfleet demo`: the emulated county (county), what each unit says it is (identities), its devices
and agents (fleet), the broker it starts (broker), the wiring beside a controller (run) and the extra
steps run once everything is up (steps).

The controller never imports this package.
"""
