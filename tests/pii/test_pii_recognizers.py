import pytest

from quizops.pii import TextScanner, redact


@pytest.fixture(scope="module")
def scanner():
    return TextScanner()


def types(scanner, text):
    return [(text[s.start : s.end], s.entity_type) for s in scanner.scan(text)]


@pytest.mark.parametrize(
    ("text", "value", "entity_type"),
    [
        ("mail me: anna.b+quiz@schule.de ok", "anna.b+quiz@schule.de", "EMAIL"),
        ("call (591)341-7776 now", "(591)341-7776", "PHONE"),
        ("call +1-537-640-6812x41586", "+1-537-640-6812x41586", "PHONE"),
        ("ring 020 7946 0958 please", "020 7946 0958", "PHONE"),
        ("ring +44(0)115 4960914", "+44(0)115 4960914", "PHONE"),
        ("ruf an: +49 (0) 9141 777631", "+49 (0) 9141 777631", "PHONE"),
        ("Handy 0171 1234567", "0171 1234567", "PHONE"),
        ("tél : 01 23 45 67 89", "01 23 45 67 89", "PHONE"),
        ("móvil: +34 912 345 678", "+34 912 345 678", "PHONE"),
        ("my SSN is 219-09-9999", "219-09-9999", "US_SSN"),
        ("ssn 219099999", "219099999", "US_SSN"),
        ("I was born on March 5, 2011", "March 5, 2011", "DATE_OF_BIRTH"),
        ("geboren am 05.03.2011", "05.03.2011", "DATE_OF_BIRTH"),
        ("née le 5 mars 2011", "5 mars 2011", "DATE_OF_BIRTH"),
        ("nací el 5 de marzo de 2011", "5 de marzo de 2011", "DATE_OF_BIRTH"),
        ("I live at 4890 Bowers View Apt. 883", "4890 Bowers View Apt. 883", "ADDRESS"),
        ("Adresse: Judith-Kusch-Straße 658", "Judith-Kusch-Straße 658", "ADDRESS"),
        ("j'habite au 19, rue Noémi Antoine", "19, rue Noémi Antoine", "ADDRESS"),
        ("vivo en Calle de Alcalá 12 Piso 3", "Calle de Alcalá 12 Piso 3", "ADDRESS"),
        ("from 53.217.108.23 again", "53.217.108.23", "IP_ADDRESS"),
        ("ip 448f:cb64:d0cd:ed92:d9ab:c2e1:1493:31a1", "448f:cb64:d0cd:ed92:d9ab:c2e1:1493:31a1",
         "IP_ADDRESS"),
        ("see https://patel.com/wp-content/x.htm.", "https://patel.com/wp-content/x.htm", "URL"),
        ("see www.example.org", "www.example.org", "URL"),
        ("my student id is 448812", "448812", "STUDENT_ID"),
        ("login S1234567", "S1234567", "STUDENT_ID"),
        ("I worked with Sebastian Hoffmann on it", "Sebastian Hoffmann", "PERSON"),
        ("Dr. Jane Whitfield explained it", "Dr. Jane Whitfield", "PERSON"),
        ("je m'appelle Élodie Alves-Simon", "Élodie Alves-Simon", "PERSON"),
        ("me llamo José González Alberola", "José González Alberola", "PERSON"),
        ("my name is diana king", "diana king", "PERSON"),
        # names outside the gazetteer: foreign honorifics, name order, context and shape cues
        ("ask pani Zofia Wrzos, ok", "pani Zofia Wrzos", "PERSON"),
        ("Hallo herra Matti Koivu,", "herra Matti Koivu", "PERSON"),
        ("Bay Emre Demir and I got 7", "Bay Emre Demir", "PERSON"),
        ("Yrd. Doç. Ayşe Kaya explained it", "Yrd. Doç. Ayşe Kaya", "PERSON"),
        ("Kovács L. Dávid helped me", "Kovács L. Dávid", "PERSON"),
        ("Nagyné Dr. Molnár Katalin said it", "Nagyné Dr. Molnár Katalin", "PERSON"),
        ("Svatopluk meint es ist 12", "Svatopluk", "PERSON"),
        ("mi profesora Juhani lo explicó", "Juhani", "PERSON"),
        ("sorry, Gönül, idk", "Gönül", "PERSON"),
        ("merci Ella Saarinen", "Ella Saarinen", "PERSON"),
        ("my name is pekka virtanen", "pekka virtanen", "PERSON"),
        ("i'm dr. ayşe kaya", "dr. ayşe kaya", "PERSON"),
    ],
)  # fmt: skip
def test_finds_entity(scanner, text, value, entity_type):
    assert (value, entity_type) in types(scanner, text)


@pytest.mark.parametrize(
    "text",
    [
        "The answer is 42.",
        "x = 3/4 because you divide both sides by 4",
        "pi is 3.14159265",
        "I used the Pythagorean Theorem so c = 5.",
        "The test is on 2024-05-17.",
        "Die Antwort ist 12, weil die Summe der Winkel 180 Grad ist.",
        "Usé el Teorema de Pitágoras.",
        "Version 2.1.0 of the app crashed.",
        "In 1998 the population was 8,400,000.",
        "Mean = 14.5, Median = 13",
        "Mein Ergebnis war 0,75 aber der Tipp sagte 3/4.",
        "i'm confused about the Venn diagram",
        "I worked with Excel on this",
        "i am stuck on step 2",
    ],
)
def test_leaves_quiz_text_alone(scanner, text):
    assert scanner.scan(text) == []


def test_redact_and_mask(scanner):
    text = "email jane.doe@example.org or call 020 7946 0958"
    spans = scanner.scan(text)
    assert redact(text, spans) == "email <EMAIL> or call <PHONE>"
    masked = redact(text, spans, "mask")
    assert "jane" not in masked and len(masked) == len(text)


def test_birth_cue_does_not_reach_past_another_date(scanner):
    text = "DOB: 2011-03-05, the test is on 2024-05-17"
    assert [s for s in types(scanner, text) if s[1] == "DATE_OF_BIRTH"] == [
        ("2011-03-05", "DATE_OF_BIRTH")
    ]


def test_known_identifiers_found_as_tokens():
    scanner = TextScanner(known_identifiers=["u-alpha-77"])
    assert ("u-alpha-77", "STUDENT_ID") in types(scanner, "I am u-alpha-77 here")


def test_configured_student_id_pattern():
    scanner = TextScanner(student_id_patterns=[r"\bQZ-\d{5}\b"])
    assert ("QZ-12345", "STUDENT_ID") in types(scanner, "my code is QZ-12345")
