"""Data shipped with roofline: chip and model profiles, efficiency factors and measurements.

Installed as ``roofline.profiles`` so that the tool works from any folder.
"""
