"""The wire format: escaping, client commands, server lines, Telnet bytes.

Plain Python with no Twisted import: what a byte string on the wire means,
and how each line the server sends is spelled.
"""
