"""Client family from a table of rules, checked on real X-Mailer / User-Agent values, on real
files written to disk and collected."""

from __future__ import annotations

from pathlib import Path

from studykit import make_study, message, write_maildir

from mailstudy.collect.clients import classify_client, client_rules, matching_rule
from mailstudy.collect.run import collect_files
from mailstudy.schema import CLIENT_FAMILIES
from mailstudy.store import read_messages

# Header values as clients write them (from public mail-library test suites and mailing-list
# archives), with the family a reader of the report expects.
REAL = {
    "Outlook for iOS and Android": "mobile",
    "Outlook-Android/2.2.196 (7283)": "mobile_android",
    "Outlook-iOS/709.2226530.prod.iphone (3.24.1)": "mobile_ios",
    "iPhone Mail (16A366)": "mobile_ios",
    "Microsoft Outlook 16.0": "outlook",
    "Microsoft Office Outlook 12.0": "outlook",
    "Microsoft Outlook Web Access 6.5": "webmail",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:102.0) Gecko/20100101 Thunderbird/102.10.0":
        "thunderbird",
    "Mozilla Thunderbird 1.0.7 (Windows/20050923)": "thunderbird",
    "Mozilla 4.7 [en] (WinNT; I)": "other",  # Netscape Communicator, not Thunderbird
    "Mozilla/4.79 [en] (Windows NT 5.0; U)": "other",
    "Mozilla/5.0 (X11; U; Linux i686; en-US; rv:1.7.12) Gecko/20050915": "other",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/119.0.0.0 Safari/537.36": "webmail",
    "YahooMailWebService/0.8.111.303": "webmail",
    "YahooMailClassic/15.0.6": "webmail",
    "SquirrelMail/1.4.22": "webmail",
    "Internet Messaging Program (IMP) H5 (6.2.21)": "webmail",
    "Roundcube Webmail/1.4.13": "webmail",
    "Apple Mail (2.3445.104.11)": "apple_mail",
    "Mutt/1.10.1 (2018-07-13)": "other",
    "Evolution 3.36.5-0ubuntu1": "other",
    "Microsoft Windows Live Mail 16.4.3528.331": "other",
    "some unknown program 1.0": "other",
}


def test_real_header_values_get_the_family_users_expect() -> None:
    wrong = {v: classify_client(v) for v, fam in REAL.items() if classify_client(v) != fam}
    assert wrong == {}


def test_every_example_of_the_table_lands_on_its_own_rule() -> None:
    rules = client_rules()
    assert rules and all(r.family in CLIENT_FAMILIES for r in rules)
    stolen = [(ex, i, matching_rule(ex)) for i, r in enumerate(rules) for ex in r.examples
              if matching_rule(ex) != i]
    assert stolen == []


def test_families_reach_the_rows_of_collected_files(tmp_path: Path) -> None:
    study, _ = make_study(tmp_path)
    values = list(REAL)
    mails = [(message(message_id=f"<c{i}@region.test>", extra=f"{hdr}: {v}"), "S")
             for i, v in enumerate(values) for hdr in ["X-Mailer" if i % 2 else "User-Agent"]]
    mails.append((message(message_id="<none@region.test>"), "S"))
    root = write_maildir(tmp_path / "jean.dupont@region.test", {"": mails})
    s = collect_files(study, [root], workers=1)
    assert s.messages_written == len(mails)
    df = read_messages(study.messages_dir)
    got = sorted(df.client_family.fillna("null"))
    assert got == sorted([REAL[v] for v in values] + ["null"])
