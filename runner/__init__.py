"""The run machinery: building a run from a config, the phase loop, resume, checkpoints, the phase cache, provenance."""
