"""Frozen result values, one module per kind of answer. Every result has ``to_dict()``: exactly the JSON
the command line prints for it (SI units in the key names), so a script and the CLI read the same thing.
"""
