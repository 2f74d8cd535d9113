"""`quizops pii-scan` on any table: a district export with its own column names and 9 locales."""

import json
import subprocess
import sys

import pandas as pd
import pytest
from faker import Faker

from bench.pii_corpus import (
    DISTRICT_PII_COLUMNS,
    EXPORT_LOCALES,
    ORDINARY_ANSWERS,
    TEST_SEED,
    curriculum_names,
    leak_recall,
    make_district_export,
)
from quizops.errors import PIILeftError
from quizops.pii import TextScanner, deidentify_frame, deidentify_table, load_policy
from tests.pii.conftest import KEY

KEPT = ["user_id", "problem_id", "skill_id", "skill_name", "correct", "ms_first_response",
        "answer_text"]  # fmt: skip


def scan_cli(tmp_path, source, *extra):
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "quizops.cli", "pii-scan", str(source), "--report",
         str(out / "r.json"), "--output", str(out / "clean.parquet"), *extra],
        capture_output=True, text=True, timeout=300,
        env={"QUIZOPS_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    return proc, out


@pytest.fixture(scope="module")
def export():
    return make_district_export(1500, seed=TEST_SEED + 3)


@pytest.fixture(scope="module")
def scanned(export, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("district")
    df, _ = export
    df.to_csv(tmp_path / "export.csv", index=False)
    proc, out = scan_cli(tmp_path, tmp_path / "export.csv")
    return proc, out


def test_export_scans_without_canonical_layout(scanned):
    proc, out = scanned
    assert proc.returncode == 0, proc.stderr
    clean = pd.read_parquet(out / "clean.parquet")
    assert list(clean.columns) == KEPT
    assert clean["user_id"].str.match(r"^p_[0-9a-f]{24}$").all()
    assert clean["correct"].dtype == "Int64" and clean["problem_id"].notna().all()


def test_no_personal_value_left(export, scanned):
    df, records = export
    _, out = scanned
    clean = pd.read_parquet(out / "clean.parquet")
    result = leak_recall(df, records, clean)
    assert set(result["structured"]) == set(DISTRICT_PII_COLUMNS.values())
    for entity_type, recall in result["structured"].items():
        assert recall >= 0.99, (entity_type, recall)
    assert result["text_n"]["EMAIL"] >= 30 and result["text_n"]["PHONE"] >= 30
    assert result["text"]["EMAIL"] >= 0.99 and result["text"]["PHONE"] >= 0.99, result
    assert result["text_n"]["PERSON"] >= 100 and result["text"]["PERSON"] >= 0.97, result
    ordinary = [i for i, r in enumerate(records) if r is None]
    assert clean["answer_text"].iloc[ordinary].tolist() == df["answer_text"].iloc[ordinary].tolist()
    assert set(df["answer_text"].iloc[ordinary]) <= set(ORDINARY_ANSWERS)
    assert clean["skill_name"].tolist() == df["skill_name"].tolist()


def test_report_says_class_and_why_never_values(export, scanned):
    df, _ = export
    _, out = scanned
    text = (out / "r.json").read_text()
    report = json.loads(text)
    columns = {c["column"]: c for c in report["columns"]}
    assert columns["user_id"]["class"] == "identifier"
    assert columns["student_name"]["class"] == "person name"
    assert columns["guardian_email"]["class"] == "contact"
    assert columns["guardian_phone"]["class"] == "contact"
    assert columns["ssn"]["class"] == "national id"
    assert columns["date_of_birth"]["class"] == "date of birth"
    assert columns["home_address"]["class"] == "address"
    assert columns["last_login_ip"]["class"] == "network id"
    assert columns["answer_text"]["class"] == "free text"
    assert columns["skill_name"]["class"] == "non-personal"
    assert all(c["why"] and c["values"] == 1500 for c in report["columns"])
    assert "name cue" in columns["ssn"]["why"]
    assert report["mode"] == "any table" and report["student_column"] == "user_id"
    for column in DISTRICT_PII_COLUMNS:
        for value in df[column].astype(str).unique():
            if not value.isdigit():
                assert value not in text


def test_any_column_names_classified_by_content(export, tmp_path):
    df, records = export
    names = {c: f"c{i:02d}" for i, c in enumerate(df.columns)}
    df.rename(columns=names).to_csv(tmp_path / "x.csv", index=False)
    proc, out = scan_cli(tmp_path, tmp_path / "x.csv")
    assert proc.returncode == 0, proc.stderr
    clean = pd.read_parquet(out / "clean.parquet").rename(columns={v: k for k, v in names.items()})
    result = leak_recall(df, records, clean)
    assert min(result["structured"].values()) >= 0.99, result
    assert result["text"]["PERSON"] >= 0.97 and result["text"]["EMAIL"] >= 0.99, result
    assert {"problem_id", "correct", "ms_first_response"} <= set(clean.columns)


def test_headerless_csv_refused_without_quoting_the_first_row(export, tmp_path):
    df, _ = export
    df.to_csv(tmp_path / "x.csv", index=False, header=False)
    proc, out = scan_cli(tmp_path, tmp_path / "x.csv")
    assert proc.returncode == 2 and not out.exists()
    assert "header" in proc.stderr
    for value in df.iloc[0].astype(str):
        if len(value) > 2:
            assert value not in proc.stderr


def test_curriculum_names_stay_clean():
    names = curriculum_names()
    assert len(names) >= 200 and "Place Value" in names and "Square Root" in names
    policy = load_policy(None)
    scanner = TextScanner(entity_types=policy.keep_scan_types, numbers_are_values=True)
    flagged = [n for n in names if scanner.scan(n)]
    assert flagged == []
    # a canonical table whose skills carry the real names passes the gate unchanged
    from quizops.canonical import CANONICAL_COLUMNS, conform
    from tests.pii.conftest import canonical_row

    rows = [canonical_row(i, str(7000 + i % 40)) for i in range(len(names))]
    for row, name in zip(rows, names, strict=True):
        row["skill_name"] = name
    frame = conform(pd.DataFrame(rows)[CANONICAL_COLUMNS], "fixture")
    clean, _ = deidentify_table(frame, KEY)
    assert clean["skill_name"].tolist() == names


def test_street_type_word_alone_is_no_address():
    scanner = TextScanner()
    for text in ("Place Value", "Square Root", "Route Finding on a Grid", "Fraction Avenue Review"):
        assert not [s for s in scanner.scan(text) if s.entity_type == "ADDRESS"], text
    for text in ("12 Place Vendôme", "I live at 4 Square Road", "rue de la Paix, 75002 Paris"):
        assert [s for s in scanner.scan(text) if s.entity_type == "ADDRESS"], text


def test_kept_column_error_names_column_type_and_policy_line():
    df = pd.DataFrame(
        {"user_id": [str(i % 20) for i in range(60)],
         "skill_name": ["12 Main Street" if i == 3 else "Place Value" for i in range(60)]}
    )  # fmt: skip
    with pytest.raises(PIILeftError) as error:
        deidentify_frame(df, KEY, auto=True)
    message = str(error.value)
    assert "skill_name" in message and "ADDRESS" in message
    assert "accept: {skill_name: [ADDRESS]}" in message and "12 Main" not in message
    policy = load_policy({"accept": {"skill_name": ["ADDRESS"]}})
    clean, _report = deidentify_frame(df, KEY, policy, auto=True)
    assert clean["skill_name"].tolist() == df["skill_name"].tolist()
    # the policy line of the message, written to a YAML file, is accepted as it is
    import yaml

    assert yaml.safe_load("accept: {skill_name: [ADDRESS]}") == {
        "accept": {"skill_name": ["ADDRESS"]}
    }


@pytest.mark.parametrize("locale", EXPORT_LOCALES)
def test_phone_numbers_by_numbering_plan(locale):
    fake = Faker(locale)
    fake.seed_instance(TEST_SEED)
    scanner = TextScanner()
    carriers = ("call {} now", "tel: {}", "mi numero è {}", "電話は{}です", "({})")
    found = total = 0
    for i in range(300):
        phone = fake.phone_number()
        text = carriers[i % len(carriers)].format(phone)
        start = text.index(phone)
        spans = [s for s in scanner.scan(text) if s.entity_type == "PHONE"]
        digits = {j for j in range(start, start + len(phone)) if text[j].isdigit()}
        covered = {j for s in spans for j in range(s.start, s.end)}
        total += 1
        found += digits <= covered
    assert found / total >= 0.99, (locale, found, total)


def test_numbers_that_are_no_phone_numbers():
    scanner = TextScanner()
    for text in (*ORDINARY_ANSWERS, "I got 1234567 as the product.", "In 1998 it was 8,400,000",
                 "pi = 3.14159265", "2024-05-17", "page 204", "2 147 483 647", "0,333333333",
                 "la réponse est 1 234 567 890", "ISBN 978-3-16-148410-0"):  # fmt: skip
        assert not [s for s in scanner.scan(text) if s.entity_type == "PHONE"], text


def test_free_text_in_nine_locales():
    from bench.pii_corpus import make_corpus, score

    scanner = TextScanner()
    records = make_corpus(4000, seed=TEST_SEED + 5, locales=EXPORT_LOCALES)
    assert {r.locale for r in records} == set(EXPORT_LOCALES)
    results = score(records, lambda t: [(s.start, s.end, s.entity_type) for s in scanner.scan(t)])
    for entity_type in ("EMAIL", "PHONE", "US_SSN", "DATE_OF_BIRTH", "IP_ADDRESS", "URL",
                        "STUDENT_ID"):  # fmt: skip
        assert results[entity_type]["recall"] >= 0.99, (entity_type, results[entity_type])
    # addresses need evidence: Faker writes some without a house number or postcode
    assert results["ADDRESS"]["recall"] >= 0.95, results["ADDRESS"]
    assert results["PERSON"]["recall"] >= 0.97, results["PERSON"]
    assert results["ALL"]["precision"] >= 0.95, results["ALL"]


def test_unnamed_column_with_a_few_names_is_redacted_not_kept():
    names = curriculum_names()
    df = pd.DataFrame(
        {
            "user_id": [str(i % 20) for i in range(len(names))],
            "c07": ["ask Maria Rossi" if i == 5 else n for i, n in enumerate(names)],
            "topic": names,
        }
    )
    clean, report = deidentify_frame(df, KEY, auto=True)
    classes = {c["column"]: (c["class"], c["action"]) for c in report["columns"]}
    assert classes["c07"] == ("free text", "redact")
    assert "Maria" not in clean["c07"].iloc[5] and "Rossi" not in clean["c07"].iloc[5]
    assert clean["c07"].iloc[4] == df["c07"].iloc[4]  # skill names keep their text
    assert classes["topic"] == ("non-personal", "keep")
    assert clean["topic"].tolist() == names


@pytest.mark.parametrize("locale", EXPORT_LOCALES)
def test_national_identifiers_in_text(locale):
    # Faker's ssn() gives each country's own number: SSN/ITIN, NINO, NIR, codice fiscale,
    # BSN (eleven-test), CPF (check digits), ...
    fake = Faker(locale)
    fake.seed_instance(TEST_SEED)
    scanner = TextScanner()
    found = 0
    for _ in range(200):
        value = fake.ssn()
        text = f"my id is {value}, see you"
        covered = {j for s in scanner.scan(text) for j in range(s.start, s.end)}
        start = text.index(value)
        found += all(j in covered for j in range(start, start + len(value)) if text[j].isalnum())
    assert found / 200 >= 0.99, (locale, found)


def test_check_digits_keep_ordinary_numbers():
    scanner = TextScanner(entity_types=("US_SSN",))
    assert scanner.scan("BSN 111222333")  # passes the eleven-test, named by its cue
    for text in ("the product is 123456789", "code 111.111.111-11", "x = 12345678A"):
        assert not scanner.scan(text), text


def test_timestamps_are_kept_not_taken_for_phones_or_birth_dates():
    import numpy as np

    n = 300
    events = pd.Timestamp("2026-11-01 08:00") + pd.to_timedelta(np.arange(n) * 7, unit="min")
    births = pd.Timestamp("2008-01-01") + pd.to_timedelta(np.arange(n) * 11 % 3000, unit="D")
    df = pd.DataFrame(
        {
            "user_id": [str(i % 30) for i in range(n)],
            "timestamp": events.strftime("%Y-%m-%d %H:%M:%S"),
            "created_at": events.strftime("%d.%m.%Y %H:%M"),
            "event_ms": (events.astype("int64") // 1_000_000).astype(str),
            "event_time": events,  # datetime64 with a time of day
            "c1": births,  # dates only, 3 to 100 years ago: birth dates by content
        }
    )
    clean, report = deidentify_frame(df, KEY, auto=True)
    classes = {c["column"]: c["class"] for c in report["columns"]}
    assert classes == {
        "user_id": "identifier", "timestamp": "non-personal", "created_at": "non-personal",
        "event_ms": "non-personal", "event_time": "non-personal", "c1": "date of birth",
    }  # fmt: skip
    assert clean["timestamp"].tolist() == df["timestamp"].tolist() and "c1" not in clean


@pytest.mark.parametrize("locale", EXPORT_LOCALES)
def test_multi_line_addresses_in_text(locale):
    # Faker's address() as typed into an answer box, line breaks and all
    fake = Faker(locale)
    fake.seed_instance(TEST_SEED + 1)
    scanner = TextScanner()
    shares = []
    for _ in range(100):
        address = fake.address()
        text = f"my address: {address}. thanks"
        start = text.index(address)
        covered = {j for s in scanner.scan(text) for j in range(s.start, s.end)}
        chars = [j for j in range(start, start + len(address)) if text[j].isalnum()]
        shares.append(sum(j in covered for j in chars) / len(chars))
    assert sum(shares) / len(shares) >= 0.98, locale


#: Phrasings written after the recognizers were tuned; they passed on their first run (names
#: 0.997, e-mails 1.000, phones 1.000 over 9 locales): the nearest thing here to a hold-out.
FRESH_T = {
    "en": [
        "{name} sits next to me, her mum's mobile is {phone}",
        "not sure. ping {email}",
        "got 15 (asked {name})",
        "{phone} is the house phone",
        "teacher said {name} was right, mail {email}",
    ],
    "de": [
        "{name} sitzt neben mir, Handy der Mutter {phone}",
        "weiß nicht, schreib an {email}",
        "15 (hab {name} gefragt)",
        "Festnetz {phone}",
    ],
    "fr": [
        "{name} est à côté de moi, portable de sa mère {phone}",
        "aucune idée, écris à {email}",
        "15 (demandé à {name})",
        "fixe : {phone}",
    ],
    "es": [
        "{name} se sienta a mi lado, el móvil de su madre es {phone}",
        "ni idea, escribe a {email}",
        "15 (le pregunté a {name})",
        "fijo: {phone}",
    ],
    "it": [
        "{name} è seduta accanto a me, il cellulare di sua madre è {phone}",
        "boh, scrivi a {email}",
        "15 (ho chiesto a {name})",
        "fisso: {phone}",
    ],
    "nl": [
        "{name} zit naast me, mobiel van haar moeder {phone}",
        "geen idee, mail {email}",
        "15 (gevraagd aan {name})",
        "vast nummer {phone}",
    ],
    "pt": [
        "{name} senta do meu lado, o celular da mãe dela é {phone}",
        "sei lá, manda email pra {email}",
        "15 (perguntei pra {name})",
        "fixo: {phone}",
    ],
    "ja": [
        "隣の席は{name}さん、お母さんの携帯は{phone}",
        "わからない、{email}に聞いて",
        "15です（{name}さんに聞いた）",
        "家の電話は{phone}",
    ],
}


def test_fresh_phrasings_never_tuned_on():
    import random
    from collections import Counter

    from bench.pii_corpus import name_tokens
    from quizops.pii import redact

    scanner, rng = TextScanner(), random.Random(777)
    total, gone = Counter(), Counter()
    for locale in EXPORT_LOCALES:
        fake = Faker(locale)
        fake.seed_instance(4242)
        for _ in range(150):
            values = {"name": fake.name(), "email": fake.email(), "phone": fake.phone_number()}
            template = rng.choice(FRESH_T[locale[:2]])
            text = template.format(**values)
            out = redact(text, scanner.scan(text))
            for kind, value in values.items():
                if "{" + kind + "}" not in template:
                    continue
                total[kind] += 1
                if kind == "name":
                    gone[kind] += all(t not in out for t in name_tokens(value))
                else:
                    gone[kind] += value not in out
    assert min(total.values()) >= 300
    assert gone["email"] / total["email"] >= 0.99 and gone["phone"] / total["phone"] >= 0.99
    assert gone["name"] / total["name"] >= 0.97, (gone, total)
