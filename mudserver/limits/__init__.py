"""Limits that keep one client from hurting the others: rates, login throttles, caps.

Plain Python with no Twisted import; each is a small state machine fed the
time as a number.
"""
