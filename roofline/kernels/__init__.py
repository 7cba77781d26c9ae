"""Scalar kernels: the estimator's math, written once for plain Python and numba alike.

Kernels take only numbers and float64 arrays (never objects); the public modules validate inputs,
pack them with :mod:`roofline.kernels.layout` and call the kernels, directly or compiled.
"""
