"""Collection from an IMAP server: many mailboxes, incremental, resumable, TLS by default.

What is fetched, per message and in batches of UIDs (never bodies): ``BODY.PEEK[HEADER]`` (the
whole header block, parsed by :mod:`headers` exactly as file collection parses it),
``BODYSTRUCTURE`` (the MIME outline: attachment counts and kinds, text size), ``FLAGS``,
``RFC822.SIZE`` and ``INTERNALDATE``. Rows are therefore those of file collection for the same
messages, apart from the source columns and the server flags.

Why a parser of our own for the FETCH responses: imapclient's generic response parser spends
~90% of the collection's CPU on BODYSTRUCTURE (see notes/imap-and-parsing.md). imapclient still
does everything else (TLS, STARTTLS, login, XOAUTH2, LIST, SELECT, SEARCH); only the bulk
``UID FETCH`` goes through its imaplib connection and the small tokenizer below, and so do
the pipelined STATUS and EXAMINE bursts (imapclient waits for each answer). A response it
cannot parse is still collected from its headers, with a ``bad_bodystructure`` defect.

Incremental and crash-safe: the message store is the checkpoint. For every folder it holds the
UIDVALIDITY and the UIDs already committed (``imap_uidvalidity``, ``imap_uid``); a run fetches
the UIDs the server has and the store lacks (so a re-run a week later fetches only new mail,
and a run killed at any moment resumes after its last committed batch with no gap and no
duplicate, even with several workers sharing a folder). A folder whose UIDVALIDITY changed has
its old rows deleted and is collected again.

Round trips are what a slow link costs, so planning a mailbox takes a fixed few of them
whatever its folder count: LIST, then one pipelined burst of STATUS (MESSAGES UIDNEXT
UIDVALIDITY) for every folder. A folder of at most ``batch_size`` messages is then fetched at
once, without SEARCH, by the UID ranges below UIDNEXT that the store lacks, with EXAMINE and
UID FETCH of several folders pipelined in one burst; larger folders are SEARCHed and cut into
chunk units.

Work is split into units (plan a mailbox, fetching its small folders when it has no large
one; fetch up to ``chunk_size`` messages of one mailbox, cut smaller so that every worker gets
a share of a large mailbox; fetch the small folders of a mailbox that also has large ones)
run by a pool of processes (parsing is CPU-bound), each keeping its own connections and up to
``inflight`` mailboxes in flight in threads (so a mailbox's round trips overlap another's
parsing); within a chunk unit a thread keeps one FETCH ahead of the parsing.
Errors never name an address, a login, a password or a folder (folders carry names: they
appear only as ``folder_id`` pseudonyms, and only in the data).

Modules: ``run`` (:func:`collect_imap`, the entry), ``single`` (one whole mailbox in one
call, what a Dask worker runs for ``--cluster``), ``scheduler`` (units to workers, results
to mailbox summaries, UIDVALIDITY replans), ``process`` (a pool worker's start and its
batches of units), ``worker`` (a worker's state, connections, retries, planning, small
folders, rows and commits), ``chunk`` (one chunk unit, fetched a FETCH ahead of the parsing),
``units`` (units of work, results, chunk packing), ``commands`` (bulk and pipelined IMAP
commands), ``lexer`` and ``parser`` (FETCH and STATUS responses), ``uids`` (sequence sets and
UID ranges), ``folders`` (folder paths and selection), ``connection`` (server settings, TLS,
sessions), ``auth`` (accounts, secrets, OAuth2 token cache), ``liveness`` (kill safety),
``errors`` (error classes, refused-login phrases).
"""

from mailstudy.collect.imap.auth import (
    Account,
    Auth,
    auth_from_options,
    mailbox_of_login,
    read_accounts,
)
from mailstudy.collect.imap.connection import Server, open_session
from mailstudy.collect.imap.errors import (
    ImapError,
    LoginRefused,
    ResponseError,
    TransientError,
    login_is_transient,
    login_reason,
)
from mailstudy.collect.imap.folders import Folder, folder_path, select_folders
from mailstudy.collect.imap.lexer import split_responses
from mailstudy.collect.imap.parser import parse_fetch, parse_internaldate, parse_status
from mailstudy.collect.imap.run import collect_imap, preflight
from mailstudy.collect.imap.uids import in_ranges, ranges_spec, uid_gaps, uid_set

__all__ = [
    "Account",
    "Auth",
    "Folder",
    "ImapError",
    "LoginRefused",
    "ResponseError",
    "Server",
    "TransientError",
    "auth_from_options",
    "collect_imap",
    "folder_path",
    "in_ranges",
    "login_is_transient",
    "login_reason",
    "mailbox_of_login",
    "open_session",
    "parse_fetch",
    "parse_internaldate",
    "parse_status",
    "preflight",
    "ranges_spec",
    "read_accounts",
    "select_folders",
    "split_responses",
    "uid_gaps",
    "uid_set",
]
