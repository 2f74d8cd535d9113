"""Person-name detection in free text, without a statistical model.

A name is found from three kinds of evidence, any of which suffices:

* a gazetteer: first and last names of the locales the suite serves (en_US, en_GB, de_DE,
  fr_FR, es_ES and neighbours), taken from the name frequency lists that ship in the Faker
  package (MIT licence; a base dependency, so nothing is downloaded at run time);
* context: a cue before a capitalised run ("my name is", "ich heiße", "je m'appelle", "me llamo",
  "Dear", "Thanks,", a title such as "Dr." or "Frau"), which also catches names that are not in
  the gazetteer and, after a self-introduction cue, names typed in lower case;
* shape: two or more capitalised words in a row, none of them a common word.

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
)

TITLES = frozenset(
    "mr mrs ms miss mx dr prof sir madam herr frau fräulein dipl.-ing ing univ.prof m mme mlle "
    "monsieur madame sr sra srta don doña dña señor señora".split()
)
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
    "cordialement regards signed cheers univ".split()
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


_JOIN_RE = re.compile(r"^(?: | [A-Z]\. | (?:" + "|".join(PARTICLES) + r") )$", re.IGNORECASE)
_TRAILING_INITIAL_RE = re.compile(r"^ [A-Z]\.(?!\w)")
_TITLE_BEFORE_RE = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Herr|Frau|Dipl\.-Ing|Ing|Univ\.Prof|M|Mme|Mlle|"
    r"Monsieur|Madame|Sr|Sra|Srta|Don|Doña|Dña|Señor|Señora)\.?\s)$"
)
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
    r"\bcordialement|\bsaludos|\bgrüße|\bgrüßen|\bgruß|\bde parte de|(?<!\w)[-–—]|\bxx)"
    r"\s*[,:]?\s*$"
)
#: Cues that make a capitalised run a name only together with other evidence.
_WEAK_CUE_RE = re.compile(
    r"(?i)(?:\bfrom|\bby|\bwith|\bask|\band|\bteacher|\btutor|\bfriend|\bmom|\bmum|\bmother|"
    r"\bdad|\bfather|\bsister|\bbrother|\bclassmate|\bpartner|\bcontact|\bcall|\btell|\bmit|"
    r"\bvon|\bfrag|\blehrer|\blehrerin|\bavec|\bpar|\bdemande à|\bprofesseur|\bcon|\bpor|"
    r"\bpregúntale a|\bprofesor|\bprofesora|\bsoy|\bje suis|\bund|\bet|\by)\s*[,:]?\s*$"
)
_LOWER_INTRO_RE = re.compile(
    r"(?i)\b(?:my name is|i am|i'm|ich heiße|ich heisse|mein name ist|je m'appelle|je m’appelle|"
    r"me llamo|mi nombre es|name:)\s+"
    rf"([{_LOWER}]+(?:-[{_LOWER}]+)?(?:\s+[{_LOWER}]+(?:-[{_LOWER}]+)?){{0,2}})"
)


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
    for attr in ("first_names", "first_names_male", "first_names_female", "first_names_nonbinary"):
        first.update(str(n).lower() for n in getattr(provider, attr, ()) or ())
    last = {str(n).lower() for n in getattr(provider, "last_names", ()) or ()}
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

    def _is_known(self, lowered: str) -> bool:
        parts = lowered.split("-")
        return all(p in self.first or p in self.last for p in parts)

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
                and _JOIN_RE.match(text[groups[-1][-1].end() : token.start()])
            ):
                groups[-1].append(token)
            else:
                groups.append([token])
        for group in groups:
            yield from self._judge(text, group)
        for m in _LOWER_INTRO_RE.finditer(text):
            keep = []
            for word in re.finditer(r"\S+", m.group(1)):
                lowered = word.group().lower().rstrip(".")
                if not keep and lowered in TITLES:
                    continue
                if not self._is_known(lowered):
                    break
                keep.append(word)
            if keep:
                yield Span(m.start(1) + keep[0].start(), m.start(1) + keep[-1].end(), PERSON)

    def _judge(self, text: str, group: list[re.Match[str]]) -> Iterator[Span]:
        """Decides whether one run of capitalised tokens is a name."""
        lowered = [t.group().lower() for t in group]
        first_word = lowered[0]
        strong = False
        while group and (lowered[0] in self.common or lowered[0] in TITLES):
            follows_known = len(group) > 1 and self._is_known(lowered[1])
            if lowered[0] in self.first and follows_known and lowered[0] not in TITLES:
                break
            if lowered[0] in TITLES or _STRONG_CUE_RE.search(text[: group[0].end()]):
                strong = True
            group, lowered = group[1:], lowered[1:]
        while len(group) > 1 and lowered[-1] in self.common and lowered[-1] not in self.last:
            group, lowered = group[:-1], lowered[:-1]
        if not group or (len(group) == 1 and lowered[0] in self.common):
            return
        start, end = group[0].start(), group[-1].end()
        if (
            text[start:end].lower() in self.countries
            or _COMPANY_AFTER_RE.match(text[end:])
            or lowered[-1] in COMPANY_WORDS
        ):
            return
        before = text[max(0, start - 40) : start]
        titled = _TITLE_BEFORE_RE.search(before)
        strong = strong or bool(titled) or bool(_STRONG_CUE_RE.search(before))
        if first_word in PLACE_PREFIXES and not titled:
            return
        weak = bool(_WEAK_CUE_RE.search(before))
        known = sum(1 for w in lowered if self._is_known(w) and w not in self.common)
        if len(group) >= 2:
            # Two or more capitalised words, none of them a common word, read as a name even
            # when the gazetteer knows none of them (names from other countries).
            # (Not when a particle joins them: "Teorema de Pitágoras", "Summe der Winkel".)
            joined_by_particle = any(
                text[a.end() : b.start()] != " " for a, b in itertools.pairwise(group)
            )
            is_name = (
                known >= 1
                or strong
                or (not joined_by_particle and not any(w in self.common for w in lowered))
            )
        else:
            word = lowered[0]
            is_name = (
                (self._is_known(word) and word.split("-")[0] in self.first)
                or strong
                or (weak and self._is_known(word))
            )
        if not is_name:
            return
        if titled:
            start -= len(titled.group())
        initial = _TRAILING_INITIAL_RE.match(text[end:])
        if initial:
            end += initial.end()
        suffix = _SUFFIX_AFTER_RE.match(text[end:])
        if suffix:
            end += suffix.end()
        yield Span(start, end, PERSON)
