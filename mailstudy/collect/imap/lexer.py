"""FETCH responses to nested lists: the tokenizer and tree builder that replace imapclient's
generic (and, on BODYSTRUCTURE, slow) response parser, and the grouping of imaplib's untagged
data into one response per message (model: imapclient's response_lexer.py)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from mailstudy.collect.imap.errors import ResponseError

# One token per match: "(", ")", a quoted string (quotes kept, so "" is told from no match),
# an atom (NIL, numbers, flags, BODY[HEADER], {123} literal markers), or a lone '"' (an
# unterminated string: the only text no other branch takes, so nothing is skipped unseen).
# Possessive quantifiers: an atom cannot be re-split on failure (no exponential backtracking).
_TOKEN = re.compile(rb'[ \t\r\n]*+(\(|\)|"(?:[^"\\]|\\.)*+"|[^ \t\r\n()"]++|")')
_NEW_RESPONSE = re.compile(rb"^\d+ \(")


def response_tree(entries: Sequence[Any]) -> list[Any]:
    """Nested lists of a FETCH response: atoms and strings as bytes, NIL as None, literals
    as bytes. The tokenizing loop runs in the regex engine (findall) and the Python loop
    branches on each token's first byte; text that is not a token raises."""
    root: list[Any] = []
    stack = [root]
    cur = root
    for e in entries:
        if isinstance(e, tuple):
            head, literal = e
            i = head.rfind(b"{")
            if i < 0 or not head.endswith(b"}"):
                raise ResponseError("literal without a size")
            text: bytes = head[:i]
        else:
            text, literal = e, None
        for tok in _TOKEN.findall(text):
            c = tok[0]
            if c == 40:  # (
                new: list[Any] = []
                cur.append(new)
                stack.append(new)
                cur = new
            elif c == 41:  # )
                if len(stack) == 1:
                    raise ResponseError("unbalanced parenthesis")
                stack.pop()
                cur = stack[-1]
            elif c == 34:  # "
                if len(tok) == 1:
                    raise ResponseError("unterminated string")
                q = tok[1:-1]
                cur.append(q.replace(b'\\"', b'"').replace(b"\\\\", b"\\") if b"\\" in q else q)
            else:
                cur.append(None if tok == b"NIL" else tok)
        if literal is not None:
            cur.append(bytes(literal))
    if len(stack) != 1:
        raise ResponseError("unbalanced parenthesis")
    return root


def split_responses(data: Sequence[Any]) -> list[list[Any]]:
    """Group imaplib's untagged FETCH data into one list of entries per message."""
    groups: list[list[Any]] = []
    for e in data:
        if e is None:
            continue
        head = e[0] if isinstance(e, tuple) else e
        if _NEW_RESPONSE.match(head) or not groups:
            groups.append([e])
        else:
            groups[-1].append(e)
    return groups

