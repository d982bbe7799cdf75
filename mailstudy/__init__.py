"""mailstudy: a pseudonymised audit of mailbox usage.

The stages are plain functions (tables in, tables out) that the CLI wraps; see the README.
"""

__version__ = "0.1.0"
