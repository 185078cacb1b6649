"""Emulated-precision arrays: run NumPy code with every operation rounded into a
format (sr.emulate, sr.EmulatedArray, sr.emulated). See srround/emulation/array.py
and docs/emulate.md."""
from srround.emulation.array import EmulatedArray, emulate, emulated

__all__ = ["EmulatedArray", "emulate", "emulated"]
