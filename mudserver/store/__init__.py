"""Where accounts live between sessions: password hashes and the account files.

Plain Python with no Twisted import, shared by the server, ``mudserver-mkuser``
and the tests; the shell calls it from worker threads.
"""
