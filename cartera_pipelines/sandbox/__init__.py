"""The built-in sandbox: deterministic demo data for every family and the Contifico API simulator.

Production code never imports this package; the CLI and the tests do.
"""
