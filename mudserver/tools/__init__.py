"""The command-line tools: ``mudserver-admin``, ``mudserver-mkuser``, ``mudserver-db``.

Programs for the operator, each a thin ``main()`` over the libraries beside
this package; no library imports them.
"""
