"""Arithmetic as hardware computes it: bit-exact models of GPU matrix instructions
(srround.hardware.mma; docs/hardware-arithmetic.md) and vendors' stochastic rounding
rules (srround.hardware.sr_rules; docs/hardware-sr.md)."""
from srround.hardware.mma import (FNUZ_E4M3, FNUZ_E5M2, MFMA, MMA, TYPES, WGMMA, Arithmetic,
                                  ElementType, Instruction, MMABlockScale, TCGen05MMA,
                                  TCGen05MMABlockScale, matmul, read_values)
from srround.hardware.sr_rules import add_and_truncate, nvidia_cvt_rs
from srround.hardware.study import gemm_error_study

__all__ = ["MMA", "MMABlockScale", "WGMMA", "TCGen05MMA", "TCGen05MMABlockScale", "MFMA",
           "Instruction", "Arithmetic", "ElementType", "TYPES", "FNUZ_E4M3", "FNUZ_E5M2",
           "matmul", "read_values", "gemm_error_study", "nvidia_cvt_rs", "add_and_truncate"]
