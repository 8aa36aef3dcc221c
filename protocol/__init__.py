"""QROC Mesh protocol core: pure, sans-IO.

Nothing here performs I/O or reads a clock or a random source. Time arrives as `now_ms`
arguments, randomness as arguments or seeds, and results leave as values. The node
(`node/`) and the deterministic simulator (`simulations/`) both drive this same code.
"""
