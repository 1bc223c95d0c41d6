"""The built-in sandbox: deterministic demo data for every family, the Contifico API simulator, and the
values an unset variable takes in sandbox mode (``defaults.py``).

Production code reaches this package only through ``settings.py``'s mode switch, which reads
``defaults.py`` when ``CARTERA_ENV`` is ``sandbox``; the CLI and the tests use the rest.
"""
