"""Pattern recognizers for structured entities in free text.

Each recognizer is a compiled pattern plus, where a pattern alone over-matches, a validator
(IPv6 through :mod:`ipaddress`, phone numbers through the international numbering plans of
``phonenumbers``, SSN ranges, birth-date context). Phone numbers are found for any region in
:data:`PHONE_REGIONS` (it_IT, nl_NL, pt_BR and ja_JP formats included); postcodes and street
addresses for en_US, en_GB, de_DE, fr_FR, es_ES and the other covered locales.
Person names live in :mod:`quizops.pii.names`.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable, Iterator

import phonenumbers

from quizops.pii.entities import (
    ADDRESS,
    DATE_OF_BIRTH,
    EMAIL,
    IP_ADDRESS,
    PHONE,
    STUDENT_ID,
    URL,
    US_SSN,
    Span,
)

EMAIL_RE = re.compile(
    r"(?<![A-Za-z0-9_.+%-])[A-Za-z0-9][A-Za-z0-9._%+-]*@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![A-Za-z0-9_-])"
)
URL_RE = re.compile(
    r"(?:(?<![A-Za-z0-9_])(?:https?|ftp)://|(?<![A-Za-z0-9_])www\.)"
    r"[^\s<>\"'`\u3000-\u30ff\u4e00-\u9fff\uff00-\uffef]+"
    r"|(?<![\w@.-])(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+"
    r"(?:com|org|net|edu|gov|info|biz|io|de|fr|es|uk|eu|us|ca|au|it|nl|ch|at|be)"
    r"(?:/[^\s<>\"'`]*)?(?![\w@-])",
    re.IGNORECASE,
)
IPV4_RE = re.compile(
    r"(?<![A-Za-z0-9_.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}"
    r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![A-Za-z0-9_]|\.\d)"
)
IPV6_CANDIDATE_RE = re.compile(
    r"(?<![A-Za-z0-9_:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![A-Za-z0-9_:])"
)
SSN_RE = re.compile(r"(?<![A-Za-z0-9_-])(\d{3})([- ])(\d{2})\2(\d{4})(?![A-Za-z0-9_-])")
SSN_CONTEXT_RE = re.compile(
    r"(?i)\b(?:ssn|social security(?: number| no\.?)?)\W{0,4}(\d{3}[- ]?\d{2}[- ]?\d{4})\b"
)
_NOT_ALNUM_BEFORE, _NOT_ALNUM_AFTER = r"(?<![A-Za-z0-9])", r"(?![A-Za-z0-9])"
#: National identifiers of other countries, reported as US_SSN (the "national id" class):
#: each pattern is specific enough on its own, or checked by :func:`_national_id_ok`.
NATIONAL_ID_RES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(_NOT_ALNUM_BEFORE + "(?:" + pattern + ")" + _NOT_ALNUM_AFTER))
    for kind, pattern in (
        ("it_cf", r"[A-Z]{6}\d{2}[A-EHLMPR-T]\d{2}[A-Z]\d{3}[A-Z]"),  # codice fiscale
        ("gb_nino", r"[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-Z]"),  # National Insurance number
        ("br_cpf", r"\d{3}\.\d{3}\.\d{3}-\d{2}|\d{11}"),  # CPF (check digits verified)
        ("fr_nir", r"[12] ?\d{2} ?\d{2} ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2}"),  # NIR + key
        ("es_dni", r"\d{8}-?[A-Z]|[XYZ]-?\d{7}-?[A-Z]"),  # DNI / NIE (letter verified)
        ("nl_bsn", r"\d{9}|\d{4}\.\d{2}\.\d{3}"),  # BSN (eleven-test verified)
    )
)
#: A cue naming a national identifier, then the identifier ("BSN: 123456782").
NATIONAL_ID_CONTEXT_RE = re.compile(
    r"(?i)(?:\b(?:bsn|burgerservicenummer|sofinummer|cpf|dni|nie|nir|nif|codice fiscale|"
    r"national id|national insurance(?: number)?|steuer-?id|steueridentifikationsnummer|"
    r"sozialversicherungsnummer|passport(?: number| no\.?)?|numéro de sécurité sociale)|"
    r"マイナンバー|個人番号)\W{0,4}((?-i:[A-Z]{0,6}\d(?:[ .-]?\d){5,17}[A-Z]?))(?![A-Za-z0-9])"
)
_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"
_PHONE_PREFIX_RE = re.compile(r"(?:\+\d{1,3}|\(0\)|\d)[ -]?$")


def _national_id_ok(kind: str, value: str) -> bool:
    """Checks the check digits or letters of a national identifier."""
    digits = [int(c) for c in value if c.isdigit()]
    if kind == "br_cpf":
        if len(digits) != 11 or len(set(digits)) == 1:
            return False
        for n in (9, 10):
            total = sum(d * (n + 1 - i) for i, d in enumerate(digits[:n]))
            if (total * 10 % 11) % 10 != digits[n]:
                return False
        return True
    if kind == "nl_bsn":
        if len(digits) != 9:
            return False
        total = sum(d * (9 - i) for i, d in enumerate(digits[:8])) - digits[8]
        return total % 11 == 0 and total > 0
    if kind == "es_dni":
        core = value.replace("-", "")
        number = core[:-1].replace("X", "0").replace("Y", "1").replace("Z", "2")
        return number.isdigit() and _DNI_LETTERS[int(number) % 23] == core[-1]
    if kind == "fr_nir":
        # 15 characters whose last two are the key: 97 - (the first 13 mod 97); Corsica's
        # departments 2A and 2B count as 19 and 18.
        core = value.replace(" ", "")
        if len(core) != 15 or not core[13:].isdigit():
            return False
        number = core[:13].replace("2A", "19").replace("2B", "18")
        return number.isdigit() and 97 - int(number) % 97 == int(core[13:])
    return True


# Lookarounds use ASCII word characters: in Japanese or Chinese text a number or an address
# touches the words around it ("電話は070-4177-7631です").
PHONE_RE = re.compile(
    r"(?<![A-Za-z0-9_+/.-])(?<!\d,)(?:\+|\()?\d[\d ().\-/]{5,24}\d(?:\s?(?:x|ext\.?|#)\s?\d{1,6})?"
    r"(?![A-Za-z0-9_/]|[.,:]\d)"  # not a decimal, not a date followed by a time
)
_DATE_ONLY_RE = re.compile(r"^\d{1,4}[./-]\d{1,2}[./-]\d{1,4}$")
_DECIMAL_RE = re.compile(r"^\d+[.,]\d+$")

_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec|"
    "januar|jänner|februar|märz|mai|juni|juli|oktober|dezember|"
    "janvier|février|fevrier|mars|avril|juin|juillet|août|aout|septembre|octobre|novembre|"
    "décembre|decembre|"
    "enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|octubre|noviembre|"
    "diciembre|"
    "gennaio|febbraio|aprile|maggio|giugno|luglio|settembre|ottobre|dicembre|"
    "januari|februari|maart|mei|augustus|"
    "janeiro|fevereiro|março|maio|junho|julho|setembro|outubro|novembro|dezembro"
)
DATE_RE = re.compile(
    r"(?<![A-Za-z0-9_/.-])(?:"
    r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}"
    r"|\d{4}年\d{1,2}月\d{1,2}日"
    r"|\d{1,2}[./-]\d{1,2}[./-](?:\d{4}|\d{2})"
    r"|\d{1,2}(?:st|nd|th|er|º)?\.?\s+(?:de\s+)?(?:" + _MONTHS + r")\.?,?\s+(?:de\s+)?\d{4}"
    r"|(?:" + _MONTHS + r")\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}"
    r")(?![A-Za-z0-9_/-])",
    re.IGNORECASE,
)
BIRTH_CONTEXT_RE = re.compile(
    r"(?i)(?:born|birth|b\.\s?d\.|dob|d\.o\.b|bday|birthday|geboren|geb\.|geburt|"
    r"née?\b|naissance|anniversaire|nacid[oa]|nac[ií]|nacimiento|cumpleaños|fecha de nac|"
    r"nat[oa]\b|nascita|compleanno|geboren|geboorte|verjaardag|nasci|nascid[oa]|nascimento|"
    r"aniversário|誕生日|生年月日|生まれ)"
)

_US_SUFFIXES = (
    "alley|avenue|branch|bridge|brooks?|burgs?|bypass|camp|canyon|cape|causeway|centers?|"
    "circles?|cliffs?|club|common|corners?|course|courts?|coves?|creek|crescent|crest|"
    "crossing|crossroad|curve|dale|dam|divide|drives?|estates?|expressway|extensions?|falls?|"
    "ferry|fields?|flats?|fords?|forest|forges?|forks?|fort|freeway|gardens?|gateway|glens?|"
    "greens?|groves?|harbors?|haven|heights|highway|hills?|hollow|inlet|islands?|isle|"
    "junctions?|keys?|knolls?|lakes?|land|landing|lane|lights?|loaf|locks?|lodge|loop|mall|"
    "manors?|meadows?|mews|mills?|mission|motorway|mount|mountains?|neck|orchard|oval|overpass|"
    "parks?|parkways?|pass|passage|path|pike|pines?|place|plains?|plaza|points?|ports?|"
    "prairie|radial|ramp|ranch|rapids?|rest|ridges?|river|roads?|rd|route|row|rue|run|shoals?|"
    "shores?|skyway|springs?|spurs?|squares?|station|stravenue|stream|streets?|summit|"
    "terrace|throughway|trace|track|trafficway|trail|tunnel|turnpike|underpass|unions?|"
    "valleys?|via|viaduct|views?|villages?|ville|vista|walks?|wall|ways?|wells?|close|gate|"
    "hill|yard|wharf|parade|grange|rise"
)
_CAP = r"[A-ZÀ-ÖØ-Þ][\wÀ-ÿ'’-]*"
_NOT_GREETING = r"(?!(?:Hallo|Hello|Hi|Hey|Dear|Bonjour|Salut|Hola|Thanks|Merci|Gracias|Danke)\b)"
_CITY = (
    _NOT_GREETING
    + r"(?:'s-|'t\s)?[A-ZÀ-Þ][\wÀ-ÿ'-]+(?:[ -](?:(?:de|del|la|las|los|el|sur|sous|am|an|der|im"
    r"|en|upon|da|do|dos|das|di|an der|am|aan den|aan de|aan het|a|A|in|bei|op|bij|sul|sulla)"
    r"\s)?" + _NOT_GREETING + r"[A-ZÀ-Þ][\wÀ-ÿ'-]+){0,3}"
)
_US_POSTCODE_TAIL = r"(?:,?\s+" + _CITY + r",\s*[A-Z]{2}\s+\d{5}(?:-\d{4})?)?"  # City, ST 12345
_PT_PARTICLES = r"(?:(?:de|da|do|dos|das|e)\s+)"
_BR_CEP_TAIL = (
    r"(?:(?:[,\n]\s*[^,\n]{2,40}?)?[,\n]?\s+\d{5}-?\d{3}"  # an optional district, the CEP
    r"(?:\s+" + _PT_PARTICLES + r"?" + _CITY + r"(?:\s*/\s*[A-Z]{2}\b)?)?)"
)
_GB_POSTCODE = r"[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}"
_EU_POSTCODE_TAIL = r"(?:,?\s+\d{5}\s+" + _CITY + r")?"
_US_ABBREVIATED = "dr|st|ct|pl|rd|ln|ter|sq|hwy|pkwy|cir|ave"

ADDRESS_RES: tuple[re.Pattern[str], ...] = (
    # en_US / en_GB: "4890 Bowers View Apt. 883", "36 Debra Forges", "Flat 06J, Christian Roads"
    re.compile(
        r"(?<![\w.])(?:\d{1,6}[A-Za-z]?|(?i:flat|studio|apartment|unit)\s+\w{1,4},?)\s+"
        r"(?:" + _CAP + r"\s+){0,3}"
        r"(?i:(?:" + _US_SUFFIXES + r")\b\.?|(?:" + _US_ABBREVIATED + r")\b\.?(?!\s+[A-Z][a-z]))"
        r"(?:,?\s+(?i:apt\.?|apartment|suite|ste\.?|unit|#|flat)\s*\w{1,6})?"
        + _US_POSTCODE_TAIL
        + r"(?:,?\s+"
        + _CITY
        + r",?\s+"
        + _GB_POSTCODE
        + r")?"
    ),
    # US military: "Unit 7872 Box 9027, DPO AP 92050", "USNS Foo, FPO AE 12345"
    re.compile(
        r"(?<![\w.])(?:(?:PSC|Unit|USNS|USNV|USS|USCGC)\s+[\w ]{1,30}?,?\s+)?(?:Box\s+\d+,?\s+)?"
        r"(?:APO|FPO|DPO)\s+A[AEP]\s+\d{5}\b"
    ),
    # de_DE: "Judith-Kusch-Straße 658", "Spießstr. 92", "Niemeierweg 7", "Seifertplatz 183"
    re.compile(
        r"(?<![\w-])(?:(?:[A-ZÄÖÜ][\wäöüß]*-)+"
        r"(?:Straße|Strasse|Str\.|Gasse|Platz|Ring|Weg|Allee|Damm|Ufer|Chaussee|Steig|Pfad|Markt)"
        r"|(?:[A-ZÄÖÜ][\wäöüß]*-)*[A-ZÄÖÜ][\wäöüß]*"
        r"(?:straße|strasse|str\.|gasse|platz|ring|weg|allee|damm|ufer|chaussee|steig|pfad|markt))"
        r"\s+\d{1,4}(?:\s?[a-z]\b|\s?[/-]\s?\d{1,4})?" + _EU_POSTCODE_TAIL
    ),
    # fr_FR: "468, chemin Jacqueline Didier", "19 bis rue de la Paix"
    re.compile(
        r"(?<![\w.])(?:\d{1,4}(?:\s?(?:bis|ter))?,?\s+)"
        r"(?i:rue|avenue|av\.|boulevard|bd|chemin|impasse|allée|place|quai|route|cours|passage|"
        r"square|sentier|voie|rond-point)"
        r"\s+(?:(?:de|du|des|de la|de l'|d'|la|le|les|l')\s*)?"
        r"(?:"
        + _CAP
        + r")(?:\s(?:de\s|du\s|la\s|le\s)?"
        + _NOT_GREETING
        + _CAP
        + r"){0,3}"
        + _EU_POSTCODE_TAIL
    ),
    # fr_FR without a house number: the postcode is the evidence ("rue de la Paix, 75002 Paris")
    re.compile(
        r"(?<![\w.])(?i:rue|avenue|boulevard|chemin|impasse|allée|place|quai|route)"
        r"\s+(?:(?:de|du|des|de la|de l'|d'|la|le|les|l')\s*)?(?:" + _CAP + r")(?:\s"
        r"(?:de\s|du\s|la\s|le\s)?" + _NOT_GREETING + _CAP + r"){0,3},?\s+\d{5}\s+" + _CITY
    ),
    # fr_FR street types that are no English word, written as in an address ("rue Verdier")
    re.compile(
        r"(?<![\w.])(?:[Rr]ue|chemin|boulevard|impasse|allée|avenue)\s+"
        r"(?:(?:de|du|des|de la|de l'|d')"
        r"\s*)?"
        + _NOT_GREETING
        + _CAP
        + r"(?:\s(?:de\s|du\s|la\s|le\s)?"
        + _NOT_GREETING
        + _CAP
        + r"){0,3}"
    ),
    # "784 清水 Street" (Faker's ja_JP street addresses)
    re.compile(
        r"(?<![A-Za-z0-9_.])\d{1,6}\s+[一-龥々ぁ-んァ-ヶー]{1,8}\s+(?:Street|St\.?|Avenue|Road)"
        r"(?![A-Za-z])"
    ),
    # it_IT: "Piazza Giacobbe, 62", "Borgo Camicione, 0 Appartamento 6, 07044, Ittiri (SS)"
    re.compile(
        r"(?<![\w.])(?:Via|Viale|Piazza|Piazzale|Corso|Largo|Vicolo|Vico|Contrada|Borgo|Strada|"
        r"Rotonda|Incrocio|Canale|Stretto|Viottolo|Lungomare|Lungotevere|Galleria|Salita|Rione|"
        r"Calle|Sentiero|Traversa)"
        r"\s+(?:(?:del|della|dei|degli|delle|dello|di|da|d'|san|santa)\s*)?(?:" + _CAP + r")"
        r"(?:\s(?:del\s|della\s|di\s)?" + _CAP + r"){0,3},?\s+\d{1,4}(?:/?[A-Za-z])?"
        r"(?:,?\s+(?i:appartamento|piano|interno|scala)\s+\w{1,4})?"
        r"(?:,?\s+\d{5},?\s+" + _CITY + r"(?:\s\([A-Z]{2}\))?)?"
    ),
    # nl_NL: "Jentesingel 391", "Merijnbaan 622, 1154 MR Nieuw-Lekkerland"
    re.compile(
        r"(?<![\w-])(?:[A-Z][\wëéèöüï'-]*\s)?[A-Z][\wëéèöüï'-]*"
        r"(?:straat|laan|weg|plein|gracht|kade|dijk|pad|hof|park|steeg|baan|singel|dreef|"
        r"plantsoen|markt|burg|kanaal|haven|veld|wal|ring|oord|erf|lei|dam|brink|hoven|boulevard|"
        r"straatweg|steeg|hof|kwartier)"
        r"\s+\d{1,5}(?:\s?[a-zA-Z](?![\w]))?(?:[-/]\d{1,4})?"
        r"(?:,?\s+\d{4}\s?[A-Z]{2}(?:,?\s+(?:'t\s|de\s)?" + _CITY + r")?)?"
    ),
    # pt_BR: "Rua das Flores, 44", "Aeroporto Siqueira, 56, Conjunto Taquaril, 21299-722 Abreu";
    # without a number the CEP is the evidence ("Vila Pires, Santa Rita, 33873-652 Cardoso")
    re.compile(
        r"(?<![\w.])(?:Rua|Avenida|Av\.|Travessa|Alameda|Rodovia|Praça|Estrada|Via|Vila|Vereda|"
        r"Residencial|Passarela|Aeroporto|Trecho|Quadra|Setor|Núcleo|Lagoa|Conjunto|Condomínio|"
        r"Chácara|Favela|Fazenda|Campo|Loteamento|Largo|Ladeira|Lago|Morro|Parque|Pátio|Rampa|"
        r"Recanto|Sítio|Viaduto|Viela|Distrito|Feira|Jardim|Colônia|Esplanada|Estação|Ponte|"
        r"Quinta|Vale|Margem|Rodoanel|Praia|Trevo|Boulevard|Beco|Galeria|Servidão)"
        r"\s+"
        + _PT_PARTICLES
        + r"{0,2}(?:"
        + _CAP
        + r")(?:\s"
        + _PT_PARTICLES
        + r"{0,2}"
        + _CAP
        + r"){0,3}(?:,\s*\d{1,5}(?:,?\s+(?i:apto\.?|apartamento|bloco|casa|sala)\s*\w{1,5})?"
        + _BR_CEP_TAIL
        + r"?|"
        + _BR_CEP_TAIL
        + r")"
    ),
    # ja_JP: "香川県長生郡長生村東和町14丁目14番9号", "栃木県山武市丹勢1丁目7番7号 卯の里コーポ538"
    re.compile(
        r"(?:北海道|東京都|京都府|大阪府|[一-龥]{2,3}県)?[一-龥々ぁ-んァ-ヶーＡ-Ｚａ-ｚ]{0,20}?"
        r"\d{1,4}丁目\d{1,4}番地?(?:\d{1,4}号)?"
        r"(?:\s?[一-龥々ぁ-んァ-ヶーＡ-Ｚａ-ｚ]{1,24}\d{1,4}(?:号室)?)?"
    ),
    # es_ES: "Rambla de Quique Perera 8 Puerta 8", "C. Mayor 12, 28001"
    re.compile(
        r"(?<![\w.])(?i:calle|c/|c\.|avenida|avda\.?|av\.|plaza|pza\.|paseo|camino|carrera|ronda|"
        r"vía|via|vial|rambla|glorieta|urbanización|callejón|cañada|alameda|acceso|pasaje|cuesta|"
        r"pasadizo|travesía)"
        r"\s+(?:(?:de|del|de la|de los|de las)\s+)?(?:" + _CAP + r"\s+){0,4}?"
        r"(?:n[º°o]\.?\s*)?\d{1,4}(?:,?\s*(?i:apt\.?|piso|puerta|esc\.?|bajo|[º°])\s*\w{0,3})*"
        r"(?:,?\s+" + _CITY + r",\s*\d{5})?"
    ),
)

STUDENT_ID_CONTEXT_RE = re.compile(
    r"(?i)\b(?:student|pupil|learner|matric(?:ulation)?|sch[üu]ler|[ée]l[èe]ve|alumno|"
    r"estudiante)[\s_-]*(?:id|no\.?|number|nr\.?|num(?:ero|éro)?|n[º°])\s*(?:is|:|#|=)?\s*"
    r"([A-Za-z]{0,4}[-_]?\d{3,12})\b"
)

#: Default student-id patterns (a policy may replace them with the district's own formats).
DEFAULT_STUDENT_ID_PATTERNS: tuple[str, ...] = (
    r"(?<![A-Za-z0-9_])[Ss]\d{7}(?![A-Za-z0-9_])",
    r"(?<![A-Za-z0-9_])(?:stu|STU)[-_]\d{4,8}(?![A-Za-z0-9_])",
)


#: Regions whose numbering plans decide whether a number without a country code is a phone
#: number: the locales the suite serves and their neighbours.
PHONE_REGIONS: tuple[str, ...] = (
    "US", "GB", "DE", "FR", "ES", "IT", "NL", "BR", "JP", "PT", "CH", "AT", "BE", "IE", "CA",
    "MX", "AU", "IN", "PL", "SE",
)  # fmt: skip
_EXTENSION_RE = re.compile(r"\s?(?:x|ext\.?|#)\s?\d")
_DATE_THEN_TIME_RE = re.compile(r"^\d{1,4}[./-]\d{1,2}[./-]\d{1,4}[ T]\d")
_THOUSANDS_RE = re.compile(r"^\d{1,3}(?: \d{3})+$")


@functools.lru_cache(maxsize=65536)
def _numbering_plan_ok(core: str, valid: bool = True) -> bool:
    """Tells whether a number fits a numbering plan (libphonenumber via ``phonenumbers``).

    Args:
        core: The number without extension.
        valid: Require a valid number of a region (else a possible one, by length).

    Returns:
        True for a number with a country code (``+39 ...``, ``0049 ...``) that is possible in
        its country, or a national number that fits one of :data:`PHONE_REGIONS`.
    """
    if core.startswith(("+", "00")):
        try:
            number = phonenumbers.parse("+" + core.lstrip("+")[2 * core.startswith("00") :])
            if phonenumbers.is_possible_number(number):
                return True
        except phonenumbers.NumberParseException:
            pass
        if core.startswith("+"):
            return False
    check = phonenumbers.is_valid_number if valid else phonenumbers.is_possible_number
    for region in PHONE_REGIONS:
        try:
            number = phonenumbers.parse(core, region)
        except phonenumbers.NumberParseException:
            continue
        if check(number):
            return True
    return False


def _phone_ok(candidate: str) -> bool:
    """Tells whether a phone-shaped match really is a phone number.

    The cheap checks come first (digit count, dates, decimals, brackets); only the survivors
    are parsed by the numbering plans. Formatted numbers of nine or more digits and bare runs
    of ten or more count by shape; shorter ones (``08-89 91 39``, ``350970930``) must fit a
    numbering plan, and a ``+`` number of any length must fit its country's plan.
    """
    core = _EXTENSION_RE.split(candidate, maxsplit=1)[0]
    digits = sum(ch.isdigit() for ch in core)
    if not 8 <= digits <= 15 or _DATE_ONLY_RE.match(core) or _DECIMAL_RE.match(core):
        return False
    if "  " in core or core.count("(") != core.count(")"):
        return False
    if _DATE_THEN_TIME_RE.match(core):
        return False  # "2026-11-01 10" of "2026-11-01 10:00:00"
    if digits == 13 and core.startswith(("978", "979")):
        return False  # an ISBN
    if _THOUSANDS_RE.match(core):
        # "1 234 567 890" is a number; "912 345 678" may be a Spanish phone: the plan decides
        return len(core.split(" ", 1)[0]) == 3 and _numbering_plan_ok(core)
    if core.isdigit():
        return digits >= 10 or (digits == 9 and _numbering_plan_ok(core, valid=False))
    if digits >= 9:
        return True
    return _numbering_plan_ok(core)


def _trim_url(text: str, start: int, end: int) -> int:
    """Drops sentence punctuation that a URL match swallowed at its end."""
    while end > start and text[end - 1] in ".,;:!?)]}'\"":
        if text[end - 1] == ")" and text[start:end].count("(") >= text[start:end].count(")"):
            break
        end -= 1
    return end


def find_structured(
    text: str, student_id_patterns: Iterable[re.Pattern[str]] = ()
) -> Iterator[Span]:
    """Finds every structured entity in a text (overlaps are resolved by the caller).

    Args:
        text: The free text.
        student_id_patterns: Compiled patterns of the district's student-id formats.

    Yields:
        Spans, possibly overlapping.
    """
    if "@" in text:
        for m in EMAIL_RE.finditer(text):
            yield Span(m.start(), m.end(), EMAIL)
    if "." in text or "/" in text:
        for m in URL_RE.finditer(text):
            end = _trim_url(text, m.start(), m.end())
            if end - m.start() > 4:
                yield Span(m.start(), end, URL)
    has_digit = any(ch.isdigit() for ch in text)
    if ":" in text:
        for m in IPV6_CANDIDATE_RE.finditer(text):
            if m.group().count(":") >= 2:
                try:
                    ipaddress.IPv6Address(m.group())
                except ValueError:
                    continue
                yield Span(m.start(), m.end(), IP_ADDRESS)
    if not has_digit:
        yield from _find_addresses(text)
        return
    for m in IPV4_RE.finditer(text):
        yield Span(m.start(), m.end(), IP_ADDRESS)
    for m in SSN_RE.finditer(text):
        area, group, serial = int(m.group(1)), int(m.group(3)), int(m.group(4))
        # Dashed, the shape is the SSN's own (invalid ranges too: a typo or a test number is
        # still someone's); spaced, it must be a valid SSN or ITIN (9xx).
        if m.group(2) == "-" or (0 < area and area != 666 and group and serial):
            yield Span(m.start(), m.end(), US_SSN)
    for m in SSN_CONTEXT_RE.finditer(text):
        yield Span(m.start(1), m.end(1), US_SSN)
    for kind, pattern in NATIONAL_ID_RES:
        for m in pattern.finditer(text):
            if _PHONE_PREFIX_RE.search(text, max(0, m.start() - 6), m.start()):
                continue  # the national part of a phone number ("+39 096325288")
            if _national_id_ok(kind, m.group()):
                yield Span(m.start(), m.end(), US_SSN)
    for m in NATIONAL_ID_CONTEXT_RE.finditer(text):
        if sum(c.isdigit() for c in m.group(1)) >= 6:
            yield Span(m.start(1), m.end(1), US_SSN)
    for m in DATE_RE.finditer(text):
        before = re.split(r"[.!?;]\s|\n", text[max(0, m.start() - 48) : m.start()])[-1]
        before = DATE_RE.split(before)[-1]
        after = re.split(r"[.!?;]\s|\n", text[m.end() : m.end() + 16])[0]
        if BIRTH_CONTEXT_RE.search(before) or BIRTH_CONTEXT_RE.search(after):
            yield Span(m.start(), m.end(), DATE_OF_BIRTH)
    for m in PHONE_RE.finditer(text):
        start, candidate = m.start(), m.group()
        if candidate.startswith("(") and candidate.count("(") > candidate.count(")"):
            start, candidate = start + 1, candidate[1:]  # "(070-4177-7631)": the bracket is text
        if _phone_ok(candidate):
            yield Span(start, m.end(), PHONE)
    for m in STUDENT_ID_CONTEXT_RE.finditer(text):
        yield Span(m.start(1), m.end(1), STUDENT_ID)
    for pattern in student_id_patterns:
        for m in pattern.finditer(text):
            yield Span(m.start(), m.end(), STUDENT_ID)
    yield from _find_addresses(text)


def _find_addresses(text: str) -> Iterator[Span]:
    """Finds street addresses of the covered locales."""
    for pattern in ADDRESS_RES:
        for m in pattern.finditer(text):
            end = m.end()
            while end > m.start() and text[end - 1] in " ,.":
                if text[end - 1] == "." and re.search(
                    r"(?i)(?:str|av|st|dr|rd|ave)\.$", text[m.start() : end]
                ):
                    break
                end -= 1
            yield Span(m.start(), end, ADDRESS)
