"""Reading exported mailboxes, one module per format; each lists a source as :class:`Item`
objects in a deterministic order (so a re-run meets the same items), read later as streams.

* :mod:`.base`: Item, SourceListing, SourceError, ReadpstMissing, file_reader;
* :mod:`.detect`: FORMATS, detect_format, owner_from_name (what needs no reading);
* :mod:`.maildir`: Maildir(++), nested and offlineimap layouts;
* :mod:`.mbox`: mboxo/mboxrd files and Thunderbird trees;
* :mod:`.eml`: trees of .eml and of Outlook .msg files;
* :mod:`.pst`: PST through Debian's ``readpst``, as a temporary .eml tree.
"""
