"""Person-name detection in free text, without a statistical model.

A name is found from three kinds of evidence, any of which suffices:

* a gazetteer: first and last names of the locales the suite serves (en_US, en_GB, de_DE,
  fr_FR, es_ES and neighbours), taken from the name frequency lists that ship in the Faker
  package (MIT licence; a base dependency, so nothing is downloaded at run time);
* context: a cue before a capitalised run ("my name is", "ich heiße", "je m'appelle", "me llamo",
  "Dear", "Thanks,", a title such as "Dr." or "Frau"), which also catches names that are not in
  the gazetteer and, after a self-introduction cue, names typed in lower case;
* shape: two or more capitalised words in a row, none of them a common word (an initial may
  stand between them: "Kovács L. Dávid");
* names outside the gazetteer: honorifics and academic titles of further languages ("pani",
  "herra", "Bay", "Yrd. Doç.", "MUDr.", Hungarian "Nagyné Dr. ..."), which are redacted with the
  name; a single unknown capitalised word after a cue that points at a person ("ask", "my
  teacher", "sorry,", "frag", "trabajé con") or before a verb of speaking or helping ("said",
  "meint", "m'a aidé", "lo explicó"); a known first name followed by an unknown capitalised word;
  and unknown lower-case words after "my name is" (or after a title or a known first name).

Common capitalised words (sentence starters, months, maths vocabulary, German nouns that are also
surnames) are kept in :data:`COMMON_WORDS` so that they do not count as names on their own.
"""

from __future__ import annotations

import functools
import importlib
import itertools
import logging
import re
from collections.abc import Iterable, Iterator

from quizops.pii.entities import PERSON, Span

logger = logging.getLogger(__name__)

#: Faker locales whose name lists form the gazetteer.
GAZETTEER_LOCALES: tuple[str, ...] = (
    "en_US",
    "en_GB",
    "en_IE",
    "de_DE",
    "de_AT",
    "de_CH",
    "fr_FR",
    "fr_CH",
    "es_ES",
    "es_MX",
    "it_IT",
    "nl_NL",
    "pt_PT",
    "pt_BR",
    "ja_JP",
)

TITLES = frozenset(
    "mr mrs ms miss mx dr prof sir madam herr frau fräulein dipl.-ing ing univ.prof m mme mlle "
    "monsieur madame sr sra srta don doña dña señor señora".split()
)
#: Honorifics and academic titles of other European languages (Polish, Czech, Slovak,
#: Hungarian, Finnish, Swedish, Turkish, Italian, Dutch, Portuguese). They introduce a name and
#: are redacted with it (a title tells the gender or the profession of the person).
FOREIGN_TITLES = frozenset(
    "pan pani panna paní pán slečna herra rouva neiti úr asszony kisasszony hr fru fröken "
    "bay bayan sayın hanım bey mgr bc ing doc mudr judr phdr rndr paeddr mvdr mddr thdr pharmdr "
    "ingr dott dott.ssa sig sig.ra dhr mevr sr.ª sra.ª doç yrd öğr arş gör uz okt çev av "
    "dipl mag dr.h.c".split()
)
TITLES = TITLES | FOREIGN_TITLES
SUFFIXES = frozenset(
    "jr jr. sr. ii iii iv phd ph.d. md dds dvm mba mba. b.sc. b.a. b.eng. m.sc. esq".split()
)
PARTICLES = (
    "de",
    "del",
    "de la",
    "de los",
    "van",
    "von",
    "der",
    "van der",
    "van den",
    "du",
    "da",
    "dos",
    "di",
    "y",
    "le",
    "la",
    "das",
    "do",
    "van de",
    "van het",
    "ter",
    "ten",
    "te",
    "della",
    "dei",
    "den",
    "van 't",
    "'t",
    "in 't",
    "op 't",
    "op den",
    "auf der",
    "zu",
)

#: First words of place names ("Port Sarah", "Santa Cruz", "Lake Jessica"): such a run is a place.
PLACE_PREFIXES = frozenset(
    "saint sainte st ste san santa santo são port puerto porto lake mount mont monte fort new "
    "north south east west nord süd ost sud bad sankt costa isla île ile cape cabo".split()
)
COMPANY_WORDS = frozenset("inc llc ltd plc corp group gmbh ag kg ohg sarl sas".split())
_COMPANY_AFTER_RE = re.compile(
    r"^,?\s(?:Inc|LLC|Ltd|PLC|Corp|Group|GmbH|AG|KG|OHG|SE|SA|S\.A\.|SARL|S\.A\.R\.L\.|SAS|"
    r"S\.L\.|S\.L\.L\.|S\.Coop\.|S\.L\.N\.E|e\.V\.|& Co|and Sons|y asociados|et Fils)(?!\w)"
)

#: Words that end a run of capitalised tokens (a name follows them, it does not include them).
GREETINGS = frozenset(
    "dear hi hello hey hallo bonjour salut hola thanks merci gracias danke gruß grüße saludos "
    "cordialement regards signed cheers univ grazie ciao salve obrigado obrigada oi olá ola "
    "hoi bedankt dank groeten saluti cumprimentos".split()
)

COMMON_WORDS = frozenset(
    """
    a an the i i'm im my me we you he she it they his her its our their this that these those
    is are was were be been am do does did have has had can could will would shall should may
    might must not no yes ok okay hi hello hey dear thanks thank please sorry so and or but if
    then because when where what which who whom whose why how all any some each every both
    here there now today tomorrow yesterday also just only maybe well sure true false yes
    answer answers question questions step steps first second third last next final result
    total sum difference product quotient solution solve solved equation equations problem
    problems number numbers fraction fractions decimal decimals percent percentage ratio
    angle angles triangle triangles circle circles square squares area volume perimeter radius
    diameter graph graphs slope line lines point points axis x y z unit units value values
    mean median mode range probability algebra geometry calculus statistics math maths
    mathematics science english history physics chemistry biology theorem law rule formula
    pythagorean pythagoras newton euler pascal fibonacci gauss venn cartesian roman arabic
    prime even odd positive negative integer integers whole real rational irrational
    monday tuesday wednesday thursday friday saturday sunday january february march april
    june july august september october november december spring summer autumn fall winter
    teacher student class school homework test quiz exam lesson chapter page section part
    hint hints help got get need think know see look like love hate new old good bad great
    wrong right correct incorrect easy hard done finished start end my name cool nice lol
    north south east west street road avenue city town state country world earth sun moon
    god bible christmas easter internet google youtube excel word
    usa uk us eu america american england english britain british france french germany
    german spain spanish europe european canada mexico paris london berlin madrid rome
    der die das ein eine und oder aber nicht ist sind war ich du er sie wir ihr mein meine
    antwort frage lösung ergebnis zahl zahlen aufgabe aufgaben schritt bruch gleichung seite
    lehrer lehrerin schule klasse hallo danke bitte ja nein gut richtig falsch also dann
    weil wenn heute morgen gestern mathe mathematik hausaufgabe hausaufgaben punkt punkte
    fischer müller schmidt schneider koch bauer wagner becker schulz hoffmann meyer weber
    le la les un une et ou mais pas est sont je tu il elle nous vous ils elles mon ma mes
    réponse question solution résultat nombre bonjour merci oui non bien donc alors avec
    pour dans sur professeur école classe exercice devoir devoirs
    el los las uno una y o pero no es son yo tú él ella nosotros mi mis respuesta pregunta
    solución resultado número hola gracias sí bien entonces con para en profesor profesora
    escuela clase ejercicio tarea
    will may june april august art bill bob mark grace hope joy faith rose ruby pearl
    frank sue pat jack chase carter page major young long king white brown green black
    gray grey love rich price ray dean dawn summer autumn winter iris lily daisy ivy
    sky river stone hill wood field lane bay mira
    theory principle method law laws second minute hour day week month year order property
    summe winkel dreieck gleichung bruch keine ahnung grad satz regel formel wurzel quadrat
    théorème somme angle triangle équation fraction racine carré règle méthode
    teorema suma ángulo triángulo ecuación fracción raíz cuadrado regla método pitágoras
    pythagore pythagoras thales euclid euklid
    ask tell call frag demande pregúntale pregunta dear hi hello hey hallo bonjour salut hola
    thanks merci gracias danke gruß grüße saludos cordialement regards signed best cheers
    with from by and mit von und avec par et con por de del la le du
    """.split()
)

_UPPER = "A-ZÀ-ÖØ-Þ"
_LOWER = "a-zà-öø-ÿß"
#: A word of letters, possibly with apostrophes and hyphens (case is checked in Python, which
#: knows every script's upper case; the ``re`` module's classes do not).
WORD_RE = re.compile(r"(?<![\w@.])[^\W\d_]+(?:['’][^\W\d_]+)?(?:-[^\W\d_]+)*(?![\w@])")


def _is_name_shaped(word: str) -> bool:
    """Tells whether a word is capitalised like a name (``Anna``, ``McDonald``, ``O'Brien``)."""
    return word[0].isupper() and any(ch.islower() for ch in word) and len(word) > 1


_JOIN_RE = re.compile(r"^(?: | [^\W\d_]\. | (?:" + "|".join(PARTICLES) + r") )$", re.IGNORECASE)
#: An initial between two name words ("Kovács L. Dávid", "John F. Kennedy").
_INITIAL_GAP_RE = re.compile(r"^ [^\W\d_]\. $")
_TRAILING_INITIAL_RE = re.compile(r"^ [A-Z]\.(?!\w)")
#: Function words that start a sentence: a capitalised run is cut before them ("... Kowalski
#: The answer is"). ``le``/``la`` only when a lower-case word follows (they are also surnames).
SENTENCE_STARTERS = frozenset(
    "the my i mein meine die das el los las les un une je il ich mi we it this".split()
)
_TITLE_WORDS = (
    r"Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Herr|Frau|Dipl\.-Ing|Ing|Univ\.Prof|M|Mme|Mlle|"
    r"Monsieur|Madame|Sr|Sra|Srta|Don|Doña|Dña|Señor|Señora|Sig\.ra|Sig|Dott\.ssa|Dra|Drs|"
    r"[Pp]an|[Pp]ani|[Pp]anna|[Pp]aní|[Pp]án|[Ss]lečna|[Hh]erra|[Rr]ouva|[Nn]eiti|[Úú]r|"
    r"[Aa]sszony|[Hh]r|[Ff]ru|[Ff]röken|[Bb]ay|[Bb]ayan|[Ss]ayın|Mgr|Bc|Doc|MUDr|JUDr|PhDr|"
    r"RNDr|PaedDr|MVDr|MDDr|ThDr|PharmDr|Ing|Doç|Yrd|Öğr|Arş|Gör|Uz|Okt|Çev|Av|Dott|Dhr|Mevr|"
    r"Mag|Dipl"
)
_TITLE_BEFORE_RE = re.compile(
    r"(?:(?<![\w.])(?:" + _TITLE_WORDS + r")\.?\s)+(?:[A-ZÀ-ÖØ-ÞŁŚŻŹĆŃŠČŘŽĎŤŇ]\.\s)?$"
)
#: Hungarian married form before a title: "Nagyné Dr. Molnár Katalin".
_NE_BEFORE_RE = re.compile(r"(?<![\w.])[^\W\d_]+né\s$")
_SUFFIX_AFTER_RE = re.compile(
    r"^(?:,?\s(?:Jr\.?|Sr\.|II|III|IV|PhD|Ph\.D\.|MD|DDS|DVM|MBA\.?|B\.Sc\.|B\.A\.|B\.Eng\.|"
    r"M\.Sc\.|Esq\.?))(?!\w)"
)
#: Cues strong enough to make an unknown capitalised word a name.
_STRONG_CUE_RE = re.compile(
    r"(?i)(?:\bmy name is|\bname is|\bname:|\bnamed|\bcalled|\bi am|\bi'm|\bthis is|"
    r"\bich bin|\bich heiße|\bich heisse|\bmein name ist|\bje m'appelle|\bje m’appelle|"
    r"\bmoi c'est|\bme llamo|\bmi nombre es|\bdear|\bhi|\bhello|\bhey|\bhallo|\bbonjour|"
    r"\bsalut|\bhola|\bthanks|\bthank you|\bdanke|\bmerci|\bgracias|\bsigned|\bregards|"
    r"\bcordialement|\bsaludos|\bgrüße|\bgrüßen|\bgruß|\bde parte de|(?<!\w)[-–—]|\bxx|"
    r"\bmi chiamo|\bsono|\bgrazie|\bciao|\bsalve|\bsaluti|\bik ben|\bik heet|\bhoi|"
    r"\bbedankt|\bdank je|\bgroeten|\beu sou|\bme chamo|\bobrigad[oa]|\boi|\bolá|"
    r"\babraços|\bcumprimentos)"
    r"\s*[,:]?\s*$"
)
#: Cues that make a capitalised run a name only together with other evidence.
_WEAK_CUE_RE = re.compile(
    r"(?i)(?:\bfrom|\bby|\bwith|\bask|\band|\bteacher|\btutor|\bfriend|\bmom|\bmum|\bmother|"
    r"\bdad|\bfather|\bsister|\bbrother|\bclassmate|\bpartner|\bcontact|\bcall|\btell|\bmit|"
    r"\bvon|\bfrag|\blehrer|\blehrerin|\bavec|\bpar|\bdemande à|\bprofesseur|\bcon|\bpor|"
    r"\bpregúntale a|\bprofesor|\bprofesora|\bsoy|\bje suis|\bund|\bet|\by)\s*[,:]?\s*$"
)
#: Cues after which one unknown capitalised word is a name: words that address or point at a
#: person (not conjunctions, which also join places: "Trinidad and Tobago").
_PERSON_CUE_RE = re.compile(
    r"(?i)(?:\bwith|\bask|\bteacher|\btutor|\bfriend|\bmom|\bmum|\bmother|\bdad|\bfather|"
    r"\bsister|\bbrother|\bcousin|\baunt|\buncle|\bclassmate|\bpartner|\btell|\bsorry|"
    r"\bme and|\bmit|\bvon|\bfrag|\blehrer|\blehrerin|\bavec|\bpar|\bdemande à|\bprofesseur|"
    r"\bcon|\bpregúntale a|\bpregunta a|\bprofesor|\bprofesora|\bmoi et|\bich und|"
    r"\bchiedi a|\bprofessoressa|\bprofessore|\bmaestra|\bmaestro|\bamico|\bamica|"
    r"\bvraag het aan|\bvraag|\bleraar|\blerares|\bjuf|\bmeester|\bvriend|\bvriendin|"
    r"\bsamen met|\bpergunta pra|\bpergunte a|\bprofessora|\bprofessor|\bamigo|\bamiga|"
    r"(?<![.@])\bcom|\bfiz com)"
    r"\s*[,:]?\s*$"
)
#: Verbs of speaking and helping right after a word make it the name of a person.
_AFTER_CUE_RE = re.compile(
    r"^,?\s(?:said|says|told|helped|explained|thinks|thought|and I\b|and me\b|meint|sagt|sagte|"
    r"hat mir|hat es|hat gesagt|m'a|m’a|a dit|dit que|a expliqué|me ayudó|me dijo|dijo|dice que|"
    r"lo explicó|ha dicho|et moi\b|y yo\b|und ich\b|mi ha|dice che|ha detto|e io\b|"
    r"heeft me|zegt dat|zei|en ik\b|me ajudou|disse|explicou|e eu\b)(?!\w)"
)
#: An article or possessive right before a capitalised word makes it a noun ("der Tipp sagte").
_ARTICLE_BEFORE_RE = re.compile(
    r"(?i)(?<!\w)(?:the|a|an|der|die|das|den|dem|des|ein|eine|einen|einem|le|la|les|l'|un|une|"
    r"el|los|las|unos|unas|my|your|our|mein|meine|dein|deine|mon|ma|mes|mi|mis|tu|su)\s+$"
)
#: Self-introductions, after which a name may be typed in lower case.
_LOWER_INTRO_RE = re.compile(
    r"(?i)\b(?:(my name is|ich heiße|ich heisse|mein name ist|je m'appelle|je m’appelle|"
    r"me llamo|mi nombre es|name:|mi chiamo|il mio nome è|ik heet|mijn naam is|me chamo|"
    r"eu me chamo|meu nome é|o meu nome é)|i am|i'm)(?=\s+[^\W\d_])"
)
_LOWER_WORD_RE = re.compile(r"[ \t]+([^\W\d_]+(?:-[^\W\d_]+)*)(\.?)")


@functools.lru_cache(maxsize=1)
def country_names(locales: tuple[str, ...] = GAZETTEER_LOCALES) -> frozenset[str]:
    """Country names (lower case) from Faker's address providers, which are never person names.

    Args:
        locales: Faker locales to take country lists from.

    Returns:
        The names.
    """
    names: set[str] = set()
    for locale in locales:
        try:
            module = importlib.import_module(f"faker.providers.address.{locale}")
        except ImportError:  # pragma: no cover - depends on the Faker release
            continue
        names.update(str(n).lower() for n in getattr(module.Provider, "countries", ()) or ())
    return frozenset(names)


def _provider_names(locale: str) -> tuple[set[str], set[str]]:
    """Reads the first and last names of one Faker locale."""
    try:
        module = importlib.import_module(f"faker.providers.person.{locale}")
    except ImportError:  # pragma: no cover - depends on the Faker release
        logger.warning("Faker has no person provider for %s", locale)
        return set(), set()
    provider = module.Provider
    first: set[str] = set()
    for attr in (
        "first_names",
        "first_names_male",
        "first_names_female",
        "first_names_nonbinary",
        "first_kana_names",
        "first_romanized_names",
    ):
        first.update(str(n).lower() for n in getattr(provider, attr, ()) or ())
    last: set[str] = set()
    for attr in ("last_names", "last_kana_names", "last_romanized_names"):
        last.update(str(n).lower() for n in getattr(provider, attr, ()) or ())
    return first, last


@functools.lru_cache(maxsize=8)
def gazetteer(
    locales: tuple[str, ...] = GAZETTEER_LOCALES,
) -> tuple[frozenset[str], frozenset[str]]:
    """Builds the first-name and last-name gazetteers (lower case, hyphenated parts split).

    Args:
        locales: Faker locales to take names from.

    Returns:
        ``(first_names, last_names)``.
    """
    first: set[str] = set()
    last: set[str] = set()
    for locale in locales:
        f, lst = _provider_names(locale)
        first |= f
        last |= lst
    for names in (first, last):
        for name in list(names):
            for part in re.split(r"[-\s]", name):
                if len(part) > 1:
                    names.add(part)
    return frozenset(first), frozenset(last)


_CJK_RE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
_CJK_NAME_CHARS = "\u4e00-\u9fff\u3005\u30a0-\u30ff"  # kanji, 々, katakana
#: A name before an honorific ("中島さん", "木村 陽一先生") or after a self-introduction.
_CJK_CUE_RES: tuple[re.Pattern[str], ...] = (
    re.compile(
        r"(["
        + _CJK_NAME_CHARS
        + r"]{1,4}(?:[ \u3000]["
        + _CJK_NAME_CHARS
        + r"\u3040-\u309f]{1,4})?)"
        r"(?=さん|くん|君|ちゃん|先生|様|氏)"
    ),
    re.compile(
        r"(?:名前は|私は|僕は|わたしは|ぼくは)[ \u3000]?"
        r"(["
        + _CJK_NAME_CHARS
        + r"\u3040-\u309f]{1,4}?(?:[ \u3000]?["
        + _CJK_NAME_CHARS
        + r"\u3040-\u309f]{1,4}?)?)(?=です|と申します|といいます|だ|。|、|$)"
    ),
)


class NameDetector:
    """Finds person names in free text.

    Args:
        locales: Faker locales whose name lists form the gazetteer.
        common_words: Words that never count as a name on their own.
        extra_names: Further names (any case) to treat as known, e.g. a roster.
    """

    def __init__(
        self,
        locales: tuple[str, ...] = GAZETTEER_LOCALES,
        common_words: Iterable[str] = COMMON_WORDS,
        extra_names: Iterable[str] = (),
    ) -> None:
        first, last = gazetteer(tuple(locales))
        extra = {n.lower() for n in extra_names}
        self.first = first | extra
        self.last = last | extra
        self.common = frozenset(w.lower() for w in common_words)
        self.countries = country_names()

        # A family name then a given name ("木村 晃") is a name whatever their length; alone,
        # a one-character name ("学", "治") is also an ordinary word: only cues find it.
        def alternation(names: Iterable[str], shortest: int) -> str:
            chosen = [n for n in names if _CJK_RE.search(n) and len(n) >= shortest]
            return "|".join(map(re.escape, sorted(chosen, key=len, reverse=True)))

        last_all, first_all = alternation(self.last, 1), alternation(self.first, 1)
        self._cjk_gazetteer_re = (
            re.compile(
                f"(?:{last_all})[ \u3000]?(?:{first_all})"
                f"|(?:{alternation(self.last, 2)})|(?:{alternation(self.first, 2)})"
            )
            if last_all and first_all
            else None
        )

    def _is_known(self, lowered: str) -> bool:
        parts = lowered.split("-")
        return all(p in self.first or p in self.last for p in parts)

    def has_known_name(self, text: str) -> bool:
        """Tells whether a text holds a gazetteer name that is not a common word.

        Args:
            text: A detected name or any short text.

        Returns:
            True when one of its words is a known first or last name (CJK names included).
        """
        if _CJK_RE.search(text) and self._cjk_gazetteer_re is not None:
            if self._cjk_gazetteer_re.search(text):
                return True
        for m in WORD_RE.finditer(text):
            lowered = m.group().lower()
            if lowered not in self.common and lowered not in TITLES and self._is_known(lowered):
                return True
        return False

    def find(self, text: str) -> Iterator[Span]:
        """Finds the person names in a text.

        Args:
            text: The free text.

        Yields:
            PERSON spans (a title before or a suffix after a name is included).
        """
        tokens = [m for m in WORD_RE.finditer(text) if _is_name_shaped(m.group())]
        groups: list[list[re.Match[str]]] = []
        for token in tokens:
            lowered = token.group().lower()
            if (
                groups
                and lowered not in TITLES
                and lowered not in GREETINGS
                and groups[-1][-1].group().lower() not in GREETINGS
                and not self._starts_sentence(text, token, lowered)
                and _JOIN_RE.match(text[groups[-1][-1].end() : token.start()])
            ):
                groups[-1].append(token)
            else:
                groups.append([token])
        for group in groups:
            yield from self._judge(text, group)
        yield from self._lower_case(text)
        if _CJK_RE.search(text):
            yield from self._cjk(text)

    def _cjk(self, text: str) -> Iterator[Span]:
        """Finds Japanese names: known family and given names, and names before honorifics."""
        if self._cjk_gazetteer_re is not None:
            for m in self._cjk_gazetteer_re.finditer(text):
                yield Span(m.start(), m.end(), PERSON)
        for pattern in _CJK_CUE_RES:
            for m in pattern.finditer(text):
                yield Span(m.start(1), m.end(1), PERSON)

    @staticmethod
    def _starts_sentence(text: str, token: re.Match[str], lowered: str) -> bool:
        """Tells whether a capitalised function word starts a new sentence inside a run."""
        if lowered in SENTENCE_STARTERS:
            return True
        return lowered in ("le", "la") and bool(re.match(r" [a-zà-ÿ]", text[token.end() :]))

    def _lower_case(self, text: str) -> Iterator[Span]:
        """Finds names typed in lower case after a self-introduction."""
        for m in _LOWER_INTRO_RE.finditer(text):
            naming = m.group(1) is not None  # "my name is" rather than "i'm"
            pos = m.end()
            start = end = None
            titled = False
            words = 0
            previous_first = False
            while words < 4:
                w = _LOWER_WORD_RE.match(text, pos)
                if not w:
                    break
                lowered = w.group(1).lower()
                if words == 0 and (
                    lowered in TITLES or (titled and len(lowered) == 1 and w.group(2))
                ):
                    # A title or an initial after a title: part of the name.
                    titled = True
                    if start is None:
                        start = w.start(1)
                    end = w.end(2)
                    pos = w.end()
                    continue
                if self._is_known(lowered):
                    ok = True
                elif lowered in self.common or len(lowered) < 2 or not w.group(1)[0].islower():
                    ok = False
                else:
                    ok = naming or titled or previous_first
                if not ok:
                    break
                previous_first = lowered in self.first
                if start is None:
                    start = w.start(1)
                end = w.end(1)
                words += 1
                pos = w.end(1)
                if w.group(2):
                    break
            if start is not None and end is not None and words:
                yield Span(start, end, PERSON)

    def _judge(self, text: str, group: list[re.Match[str]]) -> Iterator[Span]:
        """Decides whether one run of capitalised tokens is a name."""
        lowered = [t.group().lower() for t in group]
        first_word = lowered[0]
        strong = False
        while group and (lowered[0] in self.common or lowered[0] in TITLES):
            follows_name = len(group) > 1 and (
                self._is_known(lowered[1]) or lowered[1] not in self.common
            )
            if lowered[0] in self.first and follows_name and lowered[0] not in TITLES:
                break
            if lowered[0] in TITLES or _STRONG_CUE_RE.search(text[: group[0].end()]):
                strong = True
            group, lowered = group[1:], lowered[1:]
        if not group:
            return
        candidates = []
        kept = len(group)
        while kept > 1 and lowered[kept - 1] in self.common and lowered[kept - 1] not in self.last:
            kept -= 1
        candidates.append(kept)
        cut = kept
        while cut > 1 and lowered[cut - 1] in self.common:
            cut -= 1
        if cut != kept and cut > 1:
            candidates.append(cut)  # a surname that is also a common word ends a run only so
        for n in candidates:
            span = self._decide(text, group[:n], lowered[:n], first_word, strong)
            if span is not None:
                yield span
                return

    def _decide(
        self,
        text: str,
        group: list[re.Match[str]],
        lowered: list[str],
        first_word: str,
        strong: bool,
    ) -> Span | None:
        """Decides on one candidate run (leading cue words and titles already removed)."""
        if len(group) == 1 and lowered[0] in self.common:
            return None
        start, end = group[0].start(), group[-1].end()
        if (
            text[start:end].lower() in self.countries
            or _COMPANY_AFTER_RE.match(text[end:])
            or lowered[-1] in COMPANY_WORDS
        ):
            return None
        before = text[max(0, start - 40) : start]
        titled = _TITLE_BEFORE_RE.search(before)
        strong = strong or bool(titled) or bool(_STRONG_CUE_RE.search(before))
        if first_word in PLACE_PREFIXES and not titled:
            return None
        weak = bool(_WEAK_CUE_RE.search(before))
        known = sum(1 for w in lowered if self._is_known(w) and w not in self.common)
        if len(group) >= 2:
            # Two or more capitalised words, none of them a common word, read as a name even
            # when the gazetteer knows none of them (names from other countries).
            # (Not when a particle joins them: "Teorema de Pitágoras", "Summe der Winkel".)
            joined_by_particle = any(
                text[a.end() : b.start()] != " "
                and not _INITIAL_GAP_RE.match(text[a.end() : b.start()])
                for a, b in itertools.pairwise(group)
            )
            is_name = (
                known >= 1
                or strong
                or (not joined_by_particle and not any(w in self.common for w in lowered))
            )
        else:
            word = lowered[0]
            unknown_ok = (
                len(word) > 2
                and word not in self.countries
                and word not in PLACE_PREFIXES
                and (
                    bool(_PERSON_CUE_RE.search(before))
                    or (
                        bool(_AFTER_CUE_RE.match(text[end:]))
                        and not _ARTICLE_BEFORE_RE.search(before)
                    )
                )
            )
            is_name = (
                (self._is_known(word) and word.split("-")[0] in self.first)
                or strong
                or (weak and self._is_known(word))
                or unknown_ok
            )
        if not is_name:
            return None
        if titled:
            start -= len(titled.group())
            married = _NE_BEFORE_RE.search(text[max(0, start - 30) : start])
            if married and married.group()[0].isupper():
                start -= len(married.group())
        initial = _TRAILING_INITIAL_RE.match(text[end:])
        if initial:
            end += initial.end()
        suffix = _SUFFIX_AFTER_RE.match(text[end:])
        if suffix:
            end += suffix.end()
        return Span(start, end, PERSON)
