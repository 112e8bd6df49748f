"""Energy per device and per place: state history × watts, rolled up per local day (docs/energy.md)."""
