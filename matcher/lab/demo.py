"""Seeded generator of a realistic demo data set for the matchmaking service.

All data produced here is synthetic: the organisations, their names, websites (under the
reserved ``.example`` top-level domain), profiles and collaborations are fictitious and
any resemblance to real organisations is coincidental. Country codes, NUTS region codes
and the EU industrial ecosystems are real so that the data exercises the real vocabularies.

The generator is fully deterministic: the same arguments give byte-identical output,
independent of ``PYTHONHASHSEED`` and of the current time.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import random
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from matcher.domain.schema import Collaboration, Organisation
from matcher.domain.vocab import (
    ASSOCIATED,
    EU27,
    CollaborationKind,
    Ecosystem,
    OrganisationKind,
    Stage,
)

__all__ = ["DemoData", "generate_demo"]

_LOG = logging.getLogger(__name__)

_E = Ecosystem
_S = Stage


@dataclass(frozen=True)
class DemoData:
    """A generated demo data set: organisations and the collaborations between them."""

    organisations: list[Organisation]
    collaborations: list[Collaboration]


# --------------------------------------------------------------------------------------
# Countries
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Country:
    name: str
    adjective: str
    languages: tuple[str, ...]
    legal: tuple[str, ...]
    weight: float
    # (NUTS code or None, place name, adjective for names or "")
    places: tuple[tuple[str | None, str, str], ...]
    specialisations: tuple[Ecosystem, ...]


# fmt: off
_COUNTRIES: dict[str, _Country] = {
    "AT": _Country(
        "Austria", "Austrian", ("de",), ("GmbH", "GmbH", "AG", "OG"), 3.0,
        (("AT13", "Vienna", "Viennese"), ("AT12", "Lower Austria", ""),
         ("AT31", "Upper Austria", ""), ("AT22", "Styria", "Styrian"),
         ("AT33", "Tyrol", "Tyrolean"), ("AT32", "Salzburg", "")),
        (_E.ENERGY_INTENSIVE, _E.MOBILITY, _E.CONSTRUCTION),
    ),
    "BE": _Country(
        "Belgium", "Belgian", ("nl", "fr"), ("BV", "SRL", "NV", "SA"), 3.2,
        (("BE1", "Brussels", ""), ("BE2", "Flanders", "Flemish"),
         ("BE3", "Wallonia", "Walloon"), ("BE2", "Antwerp", ""), ("BE3", "Liège", "")),
        (_E.HEALTH, _E.ENERGY_INTENSIVE),
    ),
    "BG": _Country(
        "Bulgaria", "Bulgarian", ("bg",), ("EOOD", "OOD", "AD"), 1.4,
        (("BG41", "Sofia", ""), ("BG42", "Plovdiv", ""), ("BG33", "Varna", "")),
        (_E.DIGITAL, _E.TOURISM),
    ),
    "CY": _Country(
        "Cyprus", "Cypriot", ("el",), ("Ltd",), 0.4,
        (("CY00", "Nicosia", ""), ("CY00", "Limassol", "")),
        (_E.TOURISM,),
    ),
    "CZ": _Country(
        "Czechia", "Czech", ("cs",), ("s.r.o.", "s.r.o.", "a.s."), 2.8,
        (("CZ01", "Prague", ""), ("CZ06", "South Moravia", "Moravian"),
         ("CZ08", "Moravia-Silesia", ""), ("CZ03", "South Bohemia", "Bohemian"),
         ("CZ06", "Brno", "")),
        (_E.MOBILITY, _E.ELECTRONICS),
    ),
    "DE": _Country(
        "Germany", "German", ("de",),
        ("GmbH", "GmbH", "GmbH", "AG", "UG", "GmbH & Co. KG"), 14.0,
        (("DE1", "Baden-Württemberg", ""), ("DE2", "Bavaria", "Bavarian"),
         ("DE3", "Berlin", ""), ("DE4", "Brandenburg", ""), ("DE5", "Bremen", ""),
         ("DE6", "Hamburg", ""), ("DE7", "Hesse", "Hessian"),
         ("DE8", "Mecklenburg-Vorpommern", ""), ("DE9", "Lower Saxony", ""),
         ("DEA", "North Rhine-Westphalia", ""), ("DEB", "Rhineland-Palatinate", ""),
         ("DEC", "Saarland", ""), ("DED", "Saxony", "Saxon"),
         ("DEE", "Saxony-Anhalt", ""), ("DEF", "Schleswig-Holstein", ""),
         ("DEG", "Thuringia", "Thuringian"), ("DE2", "Munich", ""),
         ("DE1", "Stuttgart", ""), ("DEA", "Ruhr", "")),
        (_E.MOBILITY, _E.ENERGY_INTENSIVE, _E.ELECTRONICS),
    ),
    "DK": _Country(
        "Denmark", "Danish", ("da",), ("ApS", "ApS", "A/S"), 2.0,
        (("DK01", "Copenhagen", ""), ("DK03", "Southern Denmark", ""),
         ("DK04", "Central Jutland", ""), ("DK05", "North Jutland", ""),
         ("DK02", "Zealand", ""), ("DK04", "Aarhus", "")),
        (_E.RENEWABLE_ENERGY, _E.HEALTH),
    ),
    "EE": _Country(
        "Estonia", "Estonian", ("et",), ("OÜ", "OÜ", "AS"), 0.7,
        (("EE00", "Tallinn", ""), ("EE00", "Tartu", "")),
        (_E.DIGITAL,),
    ),
    "ES": _Country(
        "Spain", "Spanish", ("es",), ("S.L.", "S.L.", "S.A."), 8.5,
        (("ES11", "Galicia", "Galician"), ("ES21", "Basque Country", "Basque"),
         ("ES22", "Navarre", ""), ("ES24", "Aragon", "Aragonese"), ("ES30", "Madrid", ""),
         ("ES51", "Catalonia", "Catalan"), ("ES52", "Valencia", "Valencian"),
         ("ES61", "Andalusia", "Andalusian"), ("ES62", "Murcia", ""),
         ("ES41", "Castile and León", ""), ("ES12", "Asturias", "Asturian"),
         ("ES51", "Barcelona", ""), ("ES61", "Seville", "")),
        (_E.TOURISM, _E.AGRI_FOOD, _E.RENEWABLE_ENERGY),
    ),
    "FI": _Country(
        "Finland", "Finnish", ("fi",), ("Oy", "Oy", "Oyj"), 2.0,
        (("FI1B", "Helsinki", ""), ("FI19", "Tampere", ""), ("FI1D", "Oulu", ""),
         ("FI1C", "Turku", ""), ("FI19", "Western Finland", ""),
         ("FI1D", "Eastern Finland", "")),
        (_E.DIGITAL, _E.ENERGY_INTENSIVE, _E.RENEWABLE_ENERGY),
    ),
    "FR": _Country(
        "France", "French", ("fr",), ("SAS", "SAS", "SAS", "SARL", "SA"), 11.0,
        (("FR1", "Île-de-France", ""), ("FRK", "Auvergne-Rhône-Alpes", ""),
         ("FRL", "Provence-Alpes-Côte d'Azur", ""), ("FRJ", "Occitanie", ""),
         ("FRI", "Nouvelle-Aquitaine", ""), ("FRH", "Brittany", "Breton"),
         ("FRD", "Normandy", "Norman"), ("FRF", "Grand Est", ""),
         ("FRE", "Hauts-de-France", ""), ("FRG", "Pays de la Loire", ""),
         ("FRC", "Bourgogne-Franche-Comté", ""), ("FRB", "Centre-Val de Loire", ""),
         ("FRK", "Lyon", ""), ("FRJ", "Toulouse", ""), ("FRI", "Bordeaux", "")),
        (_E.AEROSPACE_DEFENCE, _E.AGRI_FOOD, _E.HEALTH, _E.CULTURAL_CREATIVE),
    ),
    "GR": _Country(
        "Greece", "Greek", ("el",), ("IKE", "S.A.", "E.E."), 1.8,
        (("EL30", "Attica", ""), ("EL52", "Thessaloniki", ""), ("EL43", "Crete", "Cretan"),
         ("EL63", "Western Greece", ""), ("EL30", "Athens", "")),
        (_E.TOURISM, _E.AGRI_FOOD),
    ),
    "HR": _Country(
        "Croatia", "Croatian", ("hr",), ("d.o.o.",), 1.1,
        (("HR05", "Zagreb", ""), ("HR03", "Dalmatia", "Dalmatian"),
         ("HR02", "Slavonia", "Slavonian"), ("HR03", "Istria", "Istrian")),
        (_E.TOURISM,),
    ),
    "HU": _Country(
        "Hungary", "Hungarian", ("hu",), ("Kft.", "Kft.", "Zrt."), 2.0,
        (("HU11", "Budapest", ""), ("HU22", "Western Transdanubia", ""),
         ("HU33", "Szeged", ""), ("HU32", "Debrecen", ""), ("HU23", "Pécs", ""),
         ("HU31", "Northern Hungary", "")),
        (_E.MOBILITY, _E.HEALTH),
    ),
    "IE": _Country(
        "Ireland", "Irish", ("en",), ("Ltd", "Limited", "DAC"), 2.0,
        (("IE06", "Dublin", ""), ("IE05", "Cork", ""), ("IE04", "Galway", ""),
         ("IE05", "Limerick", "")),
        (_E.DIGITAL, _E.HEALTH),
    ),
    "IT": _Country(
        "Italy", "Italian", ("it",), ("S.r.l.", "S.r.l.", "S.r.l.", "S.p.A.", "S.r.l.s."),
        10.0,
        (("ITC4", "Lombardy", "Lombard"), ("ITC1", "Piedmont", "Piedmontese"),
         ("ITH3", "Veneto", "Venetian"), ("ITH5", "Emilia-Romagna", ""),
         ("ITI1", "Tuscany", "Tuscan"), ("ITI4", "Lazio", ""), ("ITF3", "Campania", ""),
         ("ITF4", "Apulia", "Apulian"), ("ITG1", "Sicily", "Sicilian"),
         ("ITC3", "Liguria", "Ligurian"), ("ITH4", "Friuli Venezia Giulia", ""),
         ("ITG2", "Sardinia", "Sardinian"), ("ITI3", "Marche", ""), ("ITC4", "Milan", ""),
         ("ITC1", "Turin", "")),
        (_E.TEXTILE, _E.AGRI_FOOD, _E.MOBILITY, _E.TOURISM),
    ),
    "LT": _Country(
        "Lithuania", "Lithuanian", ("lt",), ("UAB",), 1.0,
        (("LT01", "Vilnius", ""), ("LT02", "Kaunas", ""), ("LT02", "Klaipėda", "")),
        (_E.DIGITAL, _E.ELECTRONICS),
    ),
    "LU": _Country(
        "Luxembourg", "Luxembourgish", ("lb", "fr", "de"), ("S.à r.l.", "S.A."), 0.5,
        (("LU00", "Luxembourg", ""), ("LU00", "Esch-sur-Alzette", "")),
        (_E.DIGITAL, _E.AEROSPACE_DEFENCE),
    ),
    "LV": _Country(
        "Latvia", "Latvian", ("lv",), ("SIA",), 0.7,
        (("LV00", "Riga", ""), ("LV00", "Ventspils", ""), ("LV00", "Latgale", "")),
        (_E.DIGITAL,),
    ),
    "MT": _Country(
        "Malta", "Maltese", ("mt", "en"), ("Ltd",), 0.35,
        (("MT00", "Valletta", ""), ("MT00", "Gozo", "")),
        (_E.TOURISM, _E.DIGITAL),
    ),
    "NL": _Country(
        "the Netherlands", "Dutch", ("nl",), ("B.V.",), 5.5,
        (("NL32", "Amsterdam", ""), ("NL33", "Rotterdam", ""), ("NL41", "Eindhoven", ""),
         ("NL41", "Brabant", "Brabant"), ("NL31", "Utrecht", ""), ("NL22", "Gelderland", ""),
         ("NL11", "Groningen", ""), ("NL42", "Limburg", ""), ("NL21", "Twente", ""),
         ("NL33", "Delft", ""), ("NL22", "Wageningen", "")),
        (_E.AGRI_FOOD, _E.DIGITAL, _E.MOBILITY),
    ),
    "PL": _Country(
        "Poland", "Polish", ("pl",), ("Sp. z o.o.", "Sp. z o.o.", "Sp. z o.o.", "S.A."), 6.0,
        (("PL91", "Warsaw", ""), ("PL21", "Małopolska", ""), ("PL22", "Silesia", "Silesian"),
         ("PL41", "Wielkopolska", ""), ("PL51", "Lower Silesia", "Lower Silesian"),
         ("PL63", "Pomerania", "Pomeranian"), ("PL71", "Łódź", ""), ("PL81", "Lublin", ""),
         ("PL21", "Kraków", ""), ("PL63", "Gdańsk", "")),
        (_E.MOBILITY, _E.ENERGY_INTENSIVE, _E.AGRI_FOOD),
    ),
    "PT": _Country(
        "Portugal", "Portuguese", ("pt",), ("Lda", "Lda", "S.A."), 2.2,
        (("PT11", "Porto", ""), ("PT11", "Northern Portugal", ""), ("PT16", "Coimbra", ""),
         ("PT17", "Lisbon", ""), ("PT15", "Algarve", ""), ("PT18", "Alentejo", "")),
        (_E.TEXTILE, _E.TOURISM),
    ),
    "RO": _Country(
        "Romania", "Romanian", ("ro",), ("S.R.L.", "S.R.L.", "S.A."), 2.4,
        (("RO32", "Bucharest", ""), ("RO11", "Cluj", ""),
         ("RO12", "Transylvania", "Transylvanian"), ("RO42", "Timișoara", ""),
         ("RO21", "Iași", ""), ("RO12", "Brașov", "")),
        (_E.DIGITAL, _E.MOBILITY),
    ),
    "SE": _Country(
        "Sweden", "Swedish", ("sv",), ("AB",), 3.0,
        (("SE11", "Stockholm", ""), ("SE22", "Skåne", ""), ("SE23", "Gothenburg", ""),
         ("SE12", "Uppsala", ""), ("SE33", "Upper Norrland", ""), ("SE21", "Småland", ""),
         ("SE23", "West Sweden", "")),
        (_E.DIGITAL, _E.MOBILITY, _E.ENERGY_INTENSIVE),
    ),
    "SI": _Country(
        "Slovenia", "Slovenian", ("sl",), ("d.o.o.",), 1.0,
        (("SI04", "Ljubljana", ""), ("SI03", "Maribor", ""), ("SI04", "Western Slovenia", ""),
         ("SI03", "Eastern Slovenia", "")),
        (_E.MOBILITY, _E.DIGITAL),
    ),
    "SK": _Country(
        "Slovakia", "Slovak", ("sk",), ("s.r.o.", "s.r.o.", "a.s."), 1.4,
        (("SK01", "Bratislava", ""), ("SK02", "Trnava", ""), ("SK04", "Košice", ""),
         ("SK03", "Žilina", "")),
        (_E.MOBILITY,),
    ),
    "AL": _Country(
        "Albania", "Albanian", ("sq",), ("Sh.p.k.",), 0.35,
        (("AL02", "Tirana", ""), ("AL01", "Shkodër", ""), ("AL03", "Vlorë", "")),
        (_E.TOURISM, _E.AGRI_FOOD),
    ),
    "AM": _Country(
        "Armenia", "Armenian", ("hy",), ("LLC",), 0.3,
        ((None, "Yerevan", ""), (None, "Gyumri", "")),
        (_E.DIGITAL,),
    ),
    "BA": _Country(
        "Bosnia and Herzegovina", "Bosnian", ("bs", "hr", "sr"), ("d.o.o.",), 0.45,
        ((None, "Sarajevo", ""), (None, "Banja Luka", ""), (None, "Mostar", "")),
        (_E.ENERGY_INTENSIVE, _E.AGRI_FOOD),
    ),
    "FO": _Country(
        "the Faroe Islands", "Faroese", ("fo", "da"), ("Sp/f", "P/F"), 0.1,
        ((None, "Tórshavn", ""),),
        (_E.AGRI_FOOD,),
    ),
    "GB": _Country(
        "the United Kingdom", "British", ("en",), ("Ltd", "Ltd", "Limited", "LLP"), 5.0,
        (("UKI", "London", ""), ("UKD", "Manchester", ""), ("UKM", "Scotland", "Scottish"),
         ("UKG", "West Midlands", ""), ("UKJ", "Oxford", ""), ("UKL", "Wales", "Welsh"),
         ("UKE", "Yorkshire", ""), ("UKN", "Belfast", ""), ("UKH", "Cambridge", "")),
        (_E.DIGITAL, _E.AEROSPACE_DEFENCE, _E.CULTURAL_CREATIVE, _E.HEALTH),
    ),
    "GE": _Country(
        "Georgia", "Georgian", ("ka",), ("LLC",), 0.3,
        ((None, "Tbilisi", ""), (None, "Batumi", ""), (None, "Kutaisi", "")),
        (_E.TOURISM, _E.AGRI_FOOD),
    ),
    "IL": _Country(
        "Israel", "Israeli", ("he",), ("Ltd",), 0.8,
        ((None, "Tel Aviv", ""), (None, "Haifa", ""), (None, "Jerusalem", ""),
         (None, "Beersheba", "")),
        (_E.DIGITAL, _E.HEALTH),
    ),
    "IS": _Country(
        "Iceland", "Icelandic", ("is",), ("ehf.", "hf."), 0.3,
        (("IS00", "Reykjavík", ""), ("IS00", "Akureyri", "")),
        (_E.RENEWABLE_ENERGY, _E.TOURISM),
    ),
    "MD": _Country(
        "Moldova", "Moldovan", ("ro",), ("S.R.L.",), 0.3,
        ((None, "Chișinău", ""), (None, "Bălți", "")),
        (_E.AGRI_FOOD, _E.DIGITAL),
    ),
    "ME": _Country(
        "Montenegro", "Montenegrin", ("sr",), ("d.o.o.",), 0.2,
        (("ME00", "Podgorica", ""), ("ME00", "Kotor", "")),
        (_E.TOURISM,),
    ),
    "MK": _Country(
        "North Macedonia", "Macedonian", ("mk",), ("DOOEL", "DOO"), 0.3,
        (("MK00", "Skopje", ""), ("MK00", "Bitola", "")),
        (_E.AGRI_FOOD, _E.TEXTILE),
    ),
    "NO": _Country(
        "Norway", "Norwegian", ("no",), ("AS", "AS", "ASA"), 1.8,
        (("NO08", "Oslo", ""), ("NO0A", "Bergen", ""), ("NO0A", "Stavanger", ""),
         ("NO06", "Trondheim", ""), ("NO07", "Northern Norway", ""), ("NO09", "Agder", "")),
        (_E.RENEWABLE_ENERGY, _E.MOBILITY),
    ),
    "RS": _Country(
        "Serbia", "Serbian", ("sr",), ("d.o.o.",), 0.8,
        (("RS11", "Belgrade", ""), ("RS12", "Vojvodina", ""), ("RS12", "Novi Sad", ""),
         ("RS21", "Kragujevac", ""), ("RS22", "Niš", "")),
        (_E.DIGITAL, _E.AGRI_FOOD),
    ),
    "TN": _Country(
        "Tunisia", "Tunisian", ("ar", "fr"), ("SARL", "SA"), 0.5,
        ((None, "Tunis", ""), (None, "Sfax", ""), (None, "Sousse", "")),
        (_E.TEXTILE, _E.AGRI_FOOD),
    ),
    "TR": _Country(
        "Türkiye", "Turkish", ("tr",), ("Ltd. Şti.", "A.Ş."), 2.6,
        (("TR1", "Istanbul", ""), ("TR5", "Ankara", ""), ("TR3", "Izmir", ""),
         ("TR4", "Bursa", ""), ("TR6", "Antalya", "")),
        (_E.TEXTILE, _E.MOBILITY, _E.CONSTRUCTION),
    ),
    "UA": _Country(
        "Ukraine", "Ukrainian", ("uk",), ("LLC", "TOV"), 1.2,
        ((None, "Kyiv", ""), (None, "Lviv", ""), (None, "Kharkiv", ""), (None, "Dnipro", ""),
         (None, "Odesa", "")),
        (_E.DIGITAL, _E.AGRI_FOOD),
    ),
    "CH": _Country(
        "Switzerland", "Swiss", ("de", "fr"), ("AG", "GmbH", "SA", "Sàrl"), 2.2,
        (("CH04", "Zurich", ""), ("CH01", "Lake Geneva", ""), ("CH01", "Lausanne", ""),
         ("CH03", "Basel", ""), ("CH02", "Bern", ""), ("CH05", "St. Gallen", ""),
         ("CH06", "Lucerne", ""), ("CH07", "Ticino", "Ticinese")),
        (_E.HEALTH, _E.ELECTRONICS),
    ),
}

_REGION_LANGUAGES: dict[str, tuple[str, ...]] = {
    "BE1": ("fr", "nl"), "BE2": ("nl",), "BE3": ("fr",),
    "CH01": ("fr",), "CH02": ("de", "fr"), "CH03": ("de",), "CH04": ("de",),
    "CH05": ("de",), "CH06": ("de",), "CH07": ("it",),
    "ES11": ("es", "gl"), "ES21": ("es", "eu"), "ES51": ("es", "ca"), "ES52": ("es", "ca"),
    "FI1B": ("fi", "sv"),
}  # fmt: skip

_LANGUAGE_NAMES: dict[str, str] = {
    "ar": "Arabic", "bg": "Bulgarian", "bs": "Bosnian", "ca": "Catalan", "cs": "Czech",
    "da": "Danish", "de": "German", "el": "Greek", "en": "English", "es": "Spanish",
    "et": "Estonian", "eu": "Basque", "fi": "Finnish", "fo": "Faroese", "fr": "French",
    "gl": "Galician", "he": "Hebrew", "hr": "Croatian", "hu": "Hungarian", "hy": "Armenian",
    "is": "Icelandic", "it": "Italian", "ka": "Georgian", "lb": "Luxembourgish",
    "lt": "Lithuanian", "lv": "Latvian", "mk": "Macedonian", "mt": "Maltese", "nl": "Dutch",
    "no": "Norwegian", "pl": "Polish", "pt": "Portuguese", "ro": "Romanian", "sk": "Slovak",
    "sl": "Slovenian", "sq": "Albanian", "sr": "Serbian", "sv": "Swedish", "tr": "Turkish",
    "uk": "Ukrainian",
}  # fmt: skip

# Land borders and short sea links between the countries above.
_BORDERS = """
AT-DE AT-CZ AT-SK AT-HU AT-SI AT-IT AT-CH BE-FR BE-LU BE-DE BE-NL BG-RO BG-RS BG-MK BG-GR
BG-TR CY-GR CY-TR CY-IL CZ-DE CZ-PL CZ-SK DE-DK DE-PL DE-CH DE-FR DE-LU DE-NL DK-SE DK-NO
EE-LV EE-FI ES-PT ES-FR FI-SE FI-NO FR-LU FR-CH FR-IT FR-GB GR-AL GR-MK GR-TR HR-SI HR-HU
HR-RS HR-BA HR-ME HU-SK HU-UA HU-RO HU-RS HU-SI IE-GB IT-CH IT-SI IT-MT IT-TN LT-LV LT-PL
MT-TN NL-GB PL-SK PL-UA RO-UA RO-MD RO-RS SE-NO SK-UA AL-ME AL-MK AM-GE AM-TR BA-RS BA-ME
FO-IS FO-DK FO-NO FO-GB GE-TR IS-NO MD-UA ME-RS MK-RS
"""

# Supra-national adjectives used in network names.
_MACRO_REGIONS: dict[str, tuple[str, ...]] = {
    "Nordic": ("SE", "DK", "FI", "NO", "IS", "FO"),
    "Baltic": ("EE", "LV", "LT"),
    "Alpine": ("AT", "CH", "SI"),
    "Adriatic": ("HR", "SI", "ME", "AL"),
    "Danube": ("AT", "SK", "HU", "RS", "RO", "BG"),
    "Iberian": ("ES", "PT"),
    "Balkan": ("RS", "BA", "ME", "MK", "AL"),
    "Mediterranean": ("CY", "MT", "GR", "TN"),
    "Carpathian": ("SK", "PL", "RO", "UA"),
    "Black Sea": ("RO", "BG", "GE", "UA"),
    "Benelux": ("BE", "NL", "LU"),
    "Caucasus": ("GE", "AM"),
    "Central European": ("CZ", "SK", "PL", "HU"),
    "North Sea": ("NL", "DK", "NO", "GB"),
    "Aegean": ("GR", "TR"),
    "Atlantic": ("IE", "PT"),
}

_SURNAMES: dict[str, tuple[str, ...]] = {
    "DE": ("Müller", "Schneider", "Becker", "Hoffmann", "Wagner", "Keller", "Brandt"),
    "AT": ("Gruber", "Huber", "Steiner", "Moser", "Pichler"),
    "FR": ("Martin", "Bernard", "Dubois", "Laurent", "Moreau", "Girard", "Lefèvre"),
    "IT": ("Rossi", "Bianchi", "Ferrari", "Romano", "Colombo", "Ricci", "Marino"),
    "ES": ("García", "Martínez", "López", "Navarro", "Ortega", "Herrera"),
    "PL": ("Nowak", "Kowalski", "Wiśniewski", "Zieliński", "Lewandowski"),
    "NL": ("de Vries", "Jansen", "Bakker", "Visser", "Smit", "Mulder"),
    "SE": ("Lindberg", "Johansson", "Nyström", "Berg", "Holm"),
    "GB": ("Whitfield", "Harper", "Bennett", "Clarke", "Fletcher"),
    "CZ": ("Novák", "Dvořák", "Svoboda", "Černý"),
    "PT": ("Silva", "Santos", "Ferreira", "Costa"),
}

_SME_TAILS = (
    "tech", "nova", "lab", "ix", "ia", "ware", "gen", "tronic", "sys", "flow", "line", "works",
    "logic", "metrics", "wise", "sense", "mind", "core", "point", "", "", "",
)  # fmt: skip
_GENERIC_TRADES = (
    "Solutions", "Systems", "Technologies", "Engineering", "Labs", "Innovations", "Services",
    "Dynamics", "Consulting", "Group", "Industries",
)  # fmt: skip
_NATURE_ADJ = (
    "Blue", "Green", "North", "Bright", "Silver", "Clear", "Swift", "Oak", "Pine", "Summit",
    "River", "Coastal", "Urban", "Polar", "Red", "Golden", "Nordic", "Open",
)  # fmt: skip
_NATURE_NOUN = (
    "Harbour", "Peak", "Field", "Leaf", "Stone", "Wave", "Bridge", "Valley", "Arrow", "Fox",
    "Owl", "Cedar", "Spark", "Orbit", "Loop", "Compass",
)  # fmt: skip
_ACRONYM_TAILS = ("NOVA", "TEC", "PLUS", "NET", "LINK", "HUB", "FORUM", "MED")
# fmt: on


# --------------------------------------------------------------------------------------
# Ecosystems
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Eco:
    text: str
    weight: float
    themes: tuple[str, ...]
    stems: tuple[str, ...]
    trades: tuple[str, ...]
    keywords: tuple[str, ...]
    products: tuple[str, ...]
    customers: tuple[str, ...]
    needs: Mapping[Stage, tuple[str, ...]]
    related: tuple[Ecosystem, ...]
    stages: tuple[Stage, ...]


# fmt: off
_ECOS: dict[Ecosystem, _Eco] = {
    _E.AEROSPACE_DEFENCE: _Eco(
        text="aerospace and defence",
        weight=0.6,
        themes=("Aerospace", "Aeronautics", "Space Technologies", "Aerospace & Defence",
                "Drone Systems", "Aviation", "Security & Defence Technologies"),
        stems=("Aero", "Avio", "Orbit", "Stratos", "Skyline", "Astra", "Vector", "Falcon",
               "Zenith", "Aquila"),
        trades=("Aerospace", "Avionics", "Space Systems", "Composites",
                "Precision Engineering", "UAV Systems"),
        keywords=("composite structures", "avionics", "additive manufacturing of titanium parts",
                  "satellite subsystems", "Earth observation data", "UAV platforms",
                  "non-destructive testing", "MRO services", "flight control software",
                  "radar systems", "space-grade electronics", "CubeSats",
                  "thermal protection systems", "aircraft interiors", "hydrogen propulsion",
                  "counter-drone systems", "secure communications", "precision machining",
                  "AS9100 quality management", "digital twins for aircraft",
                  "electric aircraft", "GNSS applications"),
        products=("aerostructures", "small satellite components",
                  "avionics and on-board electronics", "unmanned aerial systems",
                  "cabin interior systems", "ground-segment software", "defence electronics"),
        customers=("aircraft OEMs", "Tier-1 aerospace suppliers", "space agencies",
                   "defence procurement agencies", "airlines and MRO shops",
                   "satellite operators"),
        needs={
            _S.RESEARCH: ("test centres for the qualification of flight hardware",
                         "research labs in advanced composites"),
            _S.MATERIALS: ("qualified suppliers of aerospace-grade alloys and composites",
                          "suppliers of radiation-tolerant components"),
            _S.PRODUCTION: ("AS9100-certified machining and assembly capacity",),
            _S.INTEGRATION: ("system integrators for satellite and UAV platforms",),
            _S.SERVICES: ("MRO partners and certification consultants",),
            _S.END_USE: ("airports and civil-protection agencies as pilot users",
                        "users of satellite data in agriculture and insurance"),
            _S.RECYCLING: ("partners for end-of-life aircraft dismantling and composite "
                          "recycling",),
        },
        related=(_E.ELECTRONICS, _E.DIGITAL, _E.MOBILITY, _E.ENERGY_INTENSIVE),
        stages=(_S.RESEARCH, _S.DESIGN, _S.MATERIALS, _S.PRODUCTION, _S.INTEGRATION, _S.SERVICES),
    ),
    _E.AGRI_FOOD: _Eco(
        text="agri-food",
        weight=1.4,
        themes=("Agri-food", "Food Innovation", "Smart Farming", "Dairy", "Wine & Spirits",
                "Aquaculture", "Food Processing", "Organic Food", "Fruit & Vegetables",
                "AgriTech"),
        stems=("Agro", "Terra", "Grano", "Verde", "Oliva", "Harvest", "Fresco", "Nutri",
               "Campo", "Vita", "Mielo", "Seedo"),
        trades=("Foods", "Agritech", "Nutrition", "Farms", "Dairy", "Organics", "Ingredients"),
        keywords=("precision agriculture", "vertical farming", "plant-based proteins",
                  "food traceability", "cold-chain monitoring", "fermentation",
                  "food safety testing", "biological crop protection", "smart irrigation",
                  "aquaculture feeds", "insect proteins", "food waste valorisation",
                  "functional ingredients", "organic certification", "agri-drones",
                  "soil sensors", "shelf-life extension", "sustainable packaging",
                  "dairy processing", "microalgae", "farm management software",
                  "regenerative agriculture"),
        products=("plant-based foods", "dairy and cheese products",
                  "processed fruit and vegetables", "functional food ingredients",
                  "farm sensors and decision-support tools", "olive oil and wine",
                  "sustainable seafood"),
        customers=("food retailers", "farm cooperatives", "food processors", "HoReCa buyers",
                   "export distributors"),
        needs={
            _S.DISTRIBUTION: ("cold-chain logistics partners", "food distributors and importers"),
            _S.MATERIALS: ("suppliers of bio-based packaging", "growers of organic raw materials"),
            _S.RESEARCH: ("food science labs for shelf-life and nutrition testing",),
            _S.PRODUCTION: ("co-packers with spare processing capacity",),
            _S.SERVICES: ("providers of traceability and food-safety software",),
            _S.END_USE: ("retail chains and HoReCa buyers",),
            _S.RECYCLING: ("partners to valorise food waste and by-products",),
        },
        related=(_E.RETAIL, _E.TOURISM, _E.RENEWABLE_ENERGY, _E.DIGITAL, _E.ENERGY_INTENSIVE),
        stages=(_S.RESEARCH, _S.MATERIALS, _S.PRODUCTION, _S.DISTRIBUTION, _S.SERVICES,
                _S.RECYCLING),
    ),
    _E.CONSTRUCTION: _Eco(
        text="construction",
        weight=0.9,
        themes=("Construction", "Sustainable Building", "Timber Construction",
                "Smart Buildings", "Building Renovation", "Eco-Construction",
                "Construction Innovation"),
        stems=("Struct", "Tecto", "Domus", "Archi", "Beton", "Timber", "Casa", "Fundo",
               "Murus", "Pilar"),
        trades=("Building Systems", "Construction", "Timber Structures", "Engineering",
                "Facades", "Renovation"),
        keywords=("BIM", "modular construction", "cross-laminated timber",
                  "energy-efficient renovation", "heat pumps", "low-carbon concrete",
                  "3D-printed buildings", "smart building sensors", "prefabricated facades",
                  "green roofs", "insulation materials", "digital building logbooks",
                  "circular building materials", "construction robotics",
                  "nearly zero-energy buildings", "structural health monitoring",
                  "drone surveying", "building automation", "passive house design",
                  "demolition waste recycling"),
        products=("prefabricated building modules", "energy-efficient renovation packages",
                  "timber-frame structures", "insulation and facade systems",
                  "building-automation solutions", "low-carbon concrete mixes"),
        customers=("construction companies", "housing associations", "municipalities",
                   "architects and engineering offices", "property developers"),
        needs={
            _S.MATERIALS: ("suppliers of bio-based insulation and recycled aggregates",),
            _S.DESIGN: ("architects and BIM engineering offices",),
            _S.PRODUCTION: ("manufacturers of prefabricated components",),
            _S.INTEGRATION: ("installers of heat pumps and building automation",),
            _S.END_USE: ("housing associations and municipalities for pilot renovations",),
            _S.RECYCLING: ("partners for sorting and reusing demolition waste",),
            _S.RESEARCH: ("testing laboratories for building materials",),
        },
        related=(_E.ENERGY_INTENSIVE, _E.RENEWABLE_ENERGY, _E.DIGITAL, _E.PROXIMITY_SOCIAL),
        stages=(_S.DESIGN, _S.MATERIALS, _S.PRODUCTION, _S.INTEGRATION, _S.SERVICES,
                _S.RECYCLING),
    ),
    _E.CULTURAL_CREATIVE: _Eco(
        text="cultural and creative industries",
        weight=0.8,
        themes=("Creative Industries", "Design", "Media & Gaming", "Audiovisual",
                "Music Industry", "Fashion Design", "Creative Tech", "Cultural Heritage"),
        stems=("Lumen", "Pixel", "Studio", "Canvas", "Muse", "Echo", "Prisma", "Fable",
               "Nova", "Chroma"),
        trades=("Studios", "Media", "Design", "Games", "Productions", "Creative Lab"),
        keywords=("video game development", "virtual production", "3D animation",
                  "immersive experiences", "augmented reality", "sound design",
                  "digital heritage", "service design", "film post-production",
                  "interactive storytelling", "music technology", "UX design",
                  "motion capture", "visual effects", "creative coding", "branding",
                  "virtual events", "performing arts technology", "podcast production",
                  "digital rights management"),
        products=("video games", "immersive museum experiences",
                  "animated series and visual effects", "brand and product design",
                  "music and audio production", "digital heritage archives"),
        customers=("broadcasters and streaming platforms", "museums and cultural institutions",
                   "brands and agencies", "game publishers", "tourism boards"),
        needs={
            _S.RESEARCH: ("universities working on human-computer interaction",),
            _S.PRODUCTION: ("co-production partners and animation studios",),
            _S.DISTRIBUTION: ("publishers, distributors and streaming platforms",),
            _S.SERVICES: ("technology partners for real-time rendering and AR",),
            _S.END_USE: ("museums, festivals and venues for pilot installations",),
            _S.DESIGN: ("designers and illustrators for co-creation",),
        },
        related=(_E.DIGITAL, _E.TOURISM, _E.TEXTILE, _E.RETAIL),
        stages=(_S.DESIGN, _S.PRODUCTION, _S.DISTRIBUTION, _S.SERVICES, _S.END_USE),
    ),
    _E.DIGITAL: _Eco(
        text="digital",
        weight=1.4,
        themes=("ICT", "Software", "Cybersecurity", "Artificial Intelligence",
                "Digital Innovation", "Data Economy", "Smart Cities", "FinTech",
                "Cloud & Edge Computing"),
        stems=("Data", "Cloud", "Byte", "Quant", "Cyber", "Logi", "Nexus", "Synapse", "Bit",
               "Algo", "Infini", "Sentio"),
        trades=("Software", "Analytics", "Digital", "IT Solutions", "Security", "AI Labs",
                "Systems"),
        keywords=("machine learning", "computer vision", "natural language processing",
                  "cybersecurity", "cloud computing", "edge computing", "IoT platforms",
                  "digital twins", "blockchain", "5G applications",
                  "high-performance computing", "data spaces", "low-code platforms",
                  "robotic process automation", "quantum computing",
                  "e-government solutions", "open-source software", "GDPR compliance tools",
                  "predictive maintenance", "ERP integration", "smart city platforms",
                  "data visualisation"),
        products=("AI-based analytics software", "cybersecurity services",
                  "IoT and edge platforms", "cloud applications for SMEs",
                  "digital twin solutions", "data-sharing platforms"),
        customers=("manufacturing SMEs", "public administrations", "banks and insurers",
                   "hospitals", "utilities", "retailers"),
        needs={
            _S.RESEARCH: ("research groups in trustworthy AI and data science",),
            _S.INTEGRATION: ("system integrators and resellers",),
            _S.DISTRIBUTION: ("channel partners and resellers",),
            _S.END_USE: ("industrial end users to pilot our software",
                        "public administrations open to testing new services"),
            _S.SERVICES: ("cloud and hosting providers",),
            _S.PRODUCTION: ("manufacturers willing to pilot digital twins on their lines",),
        },
        related=(_E.ELECTRONICS, _E.HEALTH, _E.MOBILITY, _E.RETAIL, _E.CULTURAL_CREATIVE),
        stages=(_S.RESEARCH, _S.DESIGN, _S.INTEGRATION, _S.SERVICES, _S.END_USE),
    ),
    _E.ELECTRONICS: _Eco(
        text="electronics",
        weight=0.8,
        themes=("Electronics", "Microelectronics", "Photonics", "Semiconductors",
                "Embedded Systems", "Power Electronics", "Sensors"),
        stems=("Electra", "Photon", "Micro", "Silico", "Volt", "Circuit", "Opti", "Nano",
               "Quanta", "Sensa"),
        trades=("Electronics", "Photonics", "Microsystems", "Sensors", "Embedded Systems",
                "Semiconductors"),
        keywords=("printed circuit boards", "chip design", "MEMS sensors",
                  "photonic integrated circuits", "power electronics", "embedded software",
                  "FPGA design", "EMC testing", "wide-bandgap semiconductors",
                  "optical sensors", "LiDAR", "flexible electronics",
                  "battery management systems", "RF design", "thin-film deposition",
                  "cleanroom processes", "electronic manufacturing services", "laser systems",
                  "machine vision", "wireless sensor networks"),
        products=("custom sensor modules", "printed and flexible electronics",
                  "power electronics converters", "photonic components",
                  "embedded control units", "PCB assemblies"),
        customers=("automotive suppliers", "medical device makers",
                   "industrial automation companies", "telecom operators", "energy utilities"),
        needs={
            _S.RESEARCH: ("cleanroom and pilot-line facilities",),
            _S.MATERIALS: ("suppliers of semiconductor substrates and critical raw materials",),
            _S.PRODUCTION: ("electronic manufacturing services partners",),
            _S.INTEGRATION: ("system integrators in automotive and industrial automation",),
            _S.RECYCLING: ("partners for e-waste recovery of critical raw materials",),
            _S.DESIGN: ("chip design houses",),
        },
        related=(_E.DIGITAL, _E.MOBILITY, _E.AEROSPACE_DEFENCE, _E.HEALTH, _E.RENEWABLE_ENERGY),
        stages=(_S.RESEARCH, _S.DESIGN, _S.MATERIALS, _S.PRODUCTION, _S.INTEGRATION),
    ),
    _E.ENERGY_INTENSIVE: _Eco(
        text="energy-intensive industries",
        weight=0.9,
        themes=("Chemicals", "Steel & Metals", "Plastics", "Advanced Materials",
                "Process Industry", "Ceramics & Glass", "Pulp & Paper", "Industrial Symbiosis"),
        stems=("Metallo", "Chem", "Ferro", "Poly", "Cera", "Vitro", "Alumi", "Carbo",
               "Minera", "Cellu"),
        trades=("Chemicals", "Materials", "Metals", "Polymers", "Process Technologies",
                "Coatings"),
        keywords=("green hydrogen for steelmaking", "carbon capture and utilisation",
                  "bio-based chemicals", "advanced ceramics", "polymer compounding",
                  "chemical recycling of plastics", "electrified process heat",
                  "waste heat recovery", "lightweight alloys", "surface coatings",
                  "catalysis", "cement decarbonisation", "process digitalisation",
                  "industrial symbiosis", "pulp and paper innovation", "glass recycling",
                  "metal powders", "life-cycle assessment", "energy management systems",
                  "membrane separation"),
        products=("specialty chemicals", "recycled polymers", "technical ceramics",
                  "aluminium and steel components", "industrial coatings",
                  "bio-based materials"),
        customers=("automotive and construction suppliers", "packaging manufacturers",
                   "chemical parks", "steel mills", "paper mills"),
        needs={
            _S.RESEARCH: ("pilot plants for process scale-up",),
            _S.MATERIALS: ("suppliers of secondary raw materials",),
            _S.SERVICES: ("energy-efficiency auditors and engineering firms",),
            _S.END_USE: ("construction and automotive customers for low-carbon materials",),
            _S.RECYCLING: ("partners to recover industrial waste streams",),
            _S.DISTRIBUTION: ("bulk logistics partners",),
        },
        related=(_E.CONSTRUCTION, _E.MOBILITY, _E.RENEWABLE_ENERGY, _E.TEXTILE, _E.AGRI_FOOD),
        stages=(_S.RESEARCH, _S.MATERIALS, _S.PRODUCTION, _S.SERVICES, _S.RECYCLING),
    ),
    _E.HEALTH: _Eco(
        text="health",
        weight=1.2,
        themes=("Life Sciences", "Health", "MedTech", "Biotech", "Digital Health", "Pharma",
                "Health & Wellbeing", "Medical Devices"),
        stems=("Medi", "Bio", "Vita", "Cura", "Gen", "Thera", "Cell", "Salus", "Pharma",
               "Neuro"),
        trades=("Biotech", "Medical", "Diagnostics", "Health", "Therapeutics", "MedTech"),
        keywords=("in-vitro diagnostics", "medical imaging", "telemedicine", "biobanking",
                  "cell and gene therapy", "drug discovery", "wearable health sensors",
                  "clinical trials management", "AI-assisted diagnosis",
                  "orthopaedic implants", "MDR certification", "antimicrobial resistance",
                  "personalised medicine", "electronic health records",
                  "rehabilitation robotics", "biomarkers", "3D bioprinting",
                  "active and healthy ageing", "nutraceuticals", "sterilisation technologies"),
        products=("in-vitro diagnostic kits", "medical imaging software",
                  "telemedicine platforms", "orthopaedic implants", "biopharmaceuticals",
                  "rehabilitation devices"),
        customers=("hospitals", "clinics and care homes", "pharmaceutical companies",
                   "health insurers", "public health authorities"),
        needs={
            _S.RESEARCH: ("university hospitals for clinical validation",),
            _S.PRODUCTION: ("GMP-certified contract manufacturers",),
            _S.SERVICES: ("regulatory consultants for MDR and IVDR",),
            _S.DISTRIBUTION: ("medical device distributors",),
            _S.END_USE: ("hospitals and care providers as pilot sites",),
            _S.MATERIALS: ("suppliers of medical-grade polymers",),
        },
        related=(_E.DIGITAL, _E.ELECTRONICS, _E.AGRI_FOOD, _E.PROXIMITY_SOCIAL),
        stages=(_S.RESEARCH, _S.DESIGN, _S.PRODUCTION, _S.SERVICES, _S.END_USE),
    ),
    _E.MOBILITY: _Eco(
        text="mobility, transport and automotive",
        weight=1.2,
        themes=("Automotive", "Mobility", "Logistics", "Maritime", "Rail", "E-Mobility",
                "Smart Mobility", "Transport & Logistics"),
        stems=("Moto", "Auto", "Rota", "Velo", "Trans", "Volta", "Navi", "Cargo", "Mobi",
               "Drive"),
        trades=("Mobility", "Automotive", "Logistics", "E-Drive", "Transport Systems",
                "Rail Technologies"),
        keywords=("electric drivetrains", "battery packs", "charging infrastructure",
                  "autonomous driving", "connected vehicles", "lightweight components",
                  "hydrogen fuel cells", "rail signalling", "intermodal logistics",
                  "last-mile delivery", "fleet management", "vehicle-to-grid", "shipbuilding",
                  "port automation", "micro-mobility", "mobility as a service",
                  "tyre technology", "vehicle testing", "ADAS sensors", "green shipping fuels"),
        products=("electric vehicle components", "charging solutions", "logistics software",
                  "rail components", "autonomous shuttle systems", "fleet telematics"),
        customers=("car manufacturers", "public transport operators", "logistics companies",
                   "port authorities", "rail operators", "fleet operators"),
        needs={
            _S.MATERIALS: ("suppliers of battery materials and lightweight components",),
            _S.RESEARCH: ("vehicle test tracks and research centres",),
            _S.INTEGRATION: ("Tier-1 integrators",),
            _S.DISTRIBUTION: ("logistics operators and freight forwarders",),
            _S.END_USE: ("cities and transport operators for pilot deployments",),
            _S.RECYCLING: ("battery recycling partners",),
            _S.SERVICES: ("software partners for fleet and charging management",),
        },
        related=(_E.ELECTRONICS, _E.ENERGY_INTENSIVE, _E.DIGITAL, _E.RENEWABLE_ENERGY,
                 _E.AEROSPACE_DEFENCE),
        stages=(_S.DESIGN, _S.MATERIALS, _S.PRODUCTION, _S.INTEGRATION, _S.DISTRIBUTION,
                _S.SERVICES),
    ),
    _E.PROXIMITY_SOCIAL: _Eco(
        text="proximity, social economy and civil security",
        weight=0.5,
        themes=("Social Economy", "Civil Security", "Social Innovation", "Local Economy",
                "Crafts", "Circular Communities", "Safety & Security"),
        stems=("Civi", "Soli", "Commun", "Aegis", "Sentinel", "Koop", "Humana", "Agora",
               "Nexo", "Guardia"),
        trades=("Social Enterprise", "Security", "Community Services", "Cooperative",
                "Safety Systems"),
        keywords=("social enterprise models", "work integration", "community energy",
                  "crisis management", "emergency communication",
                  "video analytics for public safety", "circular repair services",
                  "local food networks", "inclusive employment", "impact measurement",
                  "civil protection training", "fire safety", "cooperative platforms",
                  "elderly care services", "microfinance", "neighbourhood services",
                  "crowd management", "critical infrastructure protection"),
        products=("repair and reuse services", "crisis-management tools",
                  "community services", "public-safety solutions",
                  "inclusive employment programmes"),
        customers=("municipalities", "civil-protection agencies", "social housing providers",
                   "NGOs", "local businesses"),
        needs={
            _S.RESEARCH: ("universities measuring social impact",),
            _S.SERVICES: ("training providers and social investors",),
            _S.END_USE: ("municipalities and civil-protection agencies as first users",),
            _S.DISTRIBUTION: ("local retail networks",),
            _S.RECYCLING: ("repair cafés and reuse networks",),
        },
        related=(_E.HEALTH, _E.CONSTRUCTION, _E.RETAIL, _E.DIGITAL, _E.TOURISM),
        stages=(_S.SERVICES, _S.END_USE, _S.DISTRIBUTION, _S.RECYCLING, _S.DESIGN),
    ),
    _E.RENEWABLE_ENERGY: _Eco(
        text="renewable energy",
        weight=1.1,
        themes=("Renewable Energy", "Wind Energy", "Solar Energy", "Hydrogen",
                "Energy Transition", "Bioenergy", "Offshore Energy", "Smart Grids",
                "Geothermal"),
        stems=("Sol", "Helio", "Aeolus", "Hydro", "Enerva", "Windo", "Greenvolt", "Therma",
               "Gaia", "Ecowatt"),
        trades=("Energy", "Solar", "Wind Systems", "Hydrogen", "Power Solutions",
                "Renewables"),
        keywords=("photovoltaics", "offshore wind", "green hydrogen", "electrolysers",
                  "battery storage", "smart grids", "heat pumps", "biogas",
                  "geothermal energy", "energy communities", "agrivoltaics",
                  "wave and tidal energy", "power-to-X", "grid forecasting", "floating solar",
                  "district heating", "wind turbine maintenance", "blade recycling",
                  "demand response", "solar inverters"),
        products=("solar PV systems", "wind turbine components",
                  "electrolysers and hydrogen systems", "battery storage solutions",
                  "energy management software", "biogas plants"),
        customers=("utilities", "grid operators", "energy communities",
                   "industrial energy users", "project developers"),
        needs={
            _S.MATERIALS: ("suppliers of critical components for electrolysers and inverters",),
            _S.RESEARCH: ("test sites for offshore and hydrogen technologies",),
            _S.INTEGRATION: ("EPC contractors and installers",),
            _S.SERVICES: ("O&M service providers",),
            _S.END_USE: ("industrial off-takers of green hydrogen",
                        "municipalities setting up energy communities"),
            _S.RECYCLING: ("partners to recycle PV modules and turbine blades",),
        },
        related=(_E.ENERGY_INTENSIVE, _E.CONSTRUCTION, _E.MOBILITY, _E.ELECTRONICS, _E.AGRI_FOOD),
        stages=(_S.RESEARCH, _S.MATERIALS, _S.PRODUCTION, _S.INTEGRATION, _S.SERVICES,
                _S.RECYCLING),
    ),
    _E.RETAIL: _Eco(
        text="retail",
        weight=0.5,
        themes=("Retail", "E-commerce", "Retail Innovation", "Commerce & Logistics",
                "Consumer Goods", "Omnichannel Retail"),
        stems=("Shop", "Marke", "Merca", "Basket", "Vendo", "Retai", "Cart", "Emporio",
               "Bazaar", "Tienda"),
        trades=("Commerce", "Retail Solutions", "E-commerce", "Trading", "Distribution"),
        keywords=("omnichannel retail", "e-commerce platforms", "retail analytics",
                  "click-and-collect", "loyalty programmes", "self-checkout",
                  "inventory optimisation", "electronic shelf labels",
                  "product information management", "reverse logistics",
                  "marketplace integration", "personalised recommendations",
                  "cashless payments", "sustainable packaging", "in-store analytics",
                  "social commerce", "quick commerce"),
        products=("e-commerce solutions", "retail analytics", "store technology",
                  "marketplace services", "private-label consumer goods"),
        customers=("independent retailers", "supermarket chains", "consumer brands",
                   "online marketplaces", "shopping centres"),
        needs={
            _S.DISTRIBUTION: ("fulfilment and last-mile delivery partners",),
            _S.PRODUCTION: ("producers of regional and sustainable goods",),
            _S.SERVICES: ("payment and software providers",),
            _S.END_USE: ("retailers willing to pilot in-store technology",),
            _S.RECYCLING: ("partners for returns handling and packaging take-back",),
        },
        related=(_E.AGRI_FOOD, _E.DIGITAL, _E.TEXTILE, _E.MOBILITY, _E.PROXIMITY_SOCIAL),
        stages=(_S.DISTRIBUTION, _S.SERVICES, _S.END_USE, _S.DESIGN),
    ),
    _E.TEXTILE: _Eco(
        text="textiles and fashion",
        weight=0.6,
        themes=("Textile", "Smart Textiles", "Fashion", "Technical Textiles",
                "Leather & Footwear", "Sustainable Fashion", "Textile Innovation"),
        stems=("Tex", "Fibra", "Lana", "Filo", "Tessa", "Weave", "Loom", "Seta", "Modo",
               "Linea"),
        trades=("Textiles", "Fabrics", "Fashion", "Apparel", "Technical Textiles", "Knitwear"),
        keywords=("technical textiles", "smart textiles", "textile recycling", "natural dyes",
                  "digital printing on fabric", "3D knitting", "bio-based fibres",
                  "functional coatings", "nonwovens", "protective clothing",
                  "textile traceability", "circular fashion", "on-demand manufacturing",
                  "leather alternatives", "wearable sensors", "digital product passport",
                  "waterless dyeing", "footwear design"),
        products=("technical fabrics", "sustainable apparel", "smart garments",
                  "recycled fibres", "protective workwear", "footwear components"),
        customers=("fashion brands", "workwear suppliers", "automotive interior makers",
                   "medical textile buyers", "retail chains"),
        needs={
            _S.MATERIALS: ("suppliers of recycled and bio-based fibres",),
            _S.RESEARCH: ("textile testing labs",),
            _S.PRODUCTION: ("near-shore manufacturers for small batches",),
            _S.DISTRIBUTION: ("distributors and retail partners",),
            _S.RECYCLING: ("textile sorting and recycling partners",),
            _S.DESIGN: ("designers for circular collections",),
        },
        related=(_E.RETAIL, _E.CULTURAL_CREATIVE, _E.ENERGY_INTENSIVE, _E.HEALTH),
        stages=(_S.DESIGN, _S.MATERIALS, _S.PRODUCTION, _S.DISTRIBUTION, _S.RECYCLING),
    ),
    _E.TOURISM: _Eco(
        text="tourism",
        weight=0.9,
        themes=("Tourism", "Sustainable Tourism", "Wellness Tourism", "Cultural Tourism",
                "Smart Tourism", "Outdoor Tourism", "Gastronomy Tourism", "Hospitality"),
        stems=("Travel", "Via", "Hospita", "Terra", "Nomad", "Vista", "Ruta", "Journey",
               "Horizon", "Porto"),
        trades=("Travel", "Tourism", "Hospitality", "Experiences", "Tours"),
        keywords=("destination management", "booking platforms", "eco-certification",
                  "visitor flow analytics", "sustainable accommodation", "cycle tourism",
                  "gastronomy routes", "virtual tours", "accessible tourism",
                  "wellness and spa", "heritage interpretation", "revenue management",
                  "rural tourism", "cruise tourism", "event management",
                  "tourism data spaces", "low-season offers"),
        products=("sustainable holiday packages", "destination marketing",
                  "booking and guest-management software", "cultural and culinary tours",
                  "accommodation services"),
        customers=("tour operators", "destination management organisations", "hotels",
                   "travel agencies", "independent travellers"),
        needs={
            _S.DISTRIBUTION: ("tour operators and online travel agencies",),
            _S.SERVICES: ("digital booking and analytics providers",),
            _S.PRODUCTION: ("local food producers for gastronomy offers",),
            _S.END_USE: ("destinations willing to pilot visitor-management tools",),
            _S.DESIGN: ("experience designers and storytellers",),
        },
        related=(_E.CULTURAL_CREATIVE, _E.AGRI_FOOD, _E.MOBILITY, _E.RETAIL, _E.DIGITAL),
        stages=(_S.DESIGN, _S.DISTRIBUTION, _S.SERVICES, _S.END_USE),
    ),
}

_STAGE_ACTS: dict[Stage, str] = {
    _S.RESEARCH: "applied research, testing and validation",
    _S.DESIGN: "product design and engineering",
    _S.MATERIALS: "the supply of materials and components",
    _S.PRODUCTION: "manufacturing and processing",
    _S.INTEGRATION: "system integration and assembly",
    _S.DISTRIBUTION: "logistics, wholesale and trade",
    _S.SERVICES: "consulting, software and maintenance services",
    _S.END_USE: "operating solutions as end users",
    _S.RECYCLING: "repair, reuse and recycling",
}
_STAGE_VERBS: dict[Stage, str] = {
    _S.RESEARCH: "test and validate",
    _S.DESIGN: "design and engineer",
    _S.MATERIALS: "supply materials and components for",
    _S.PRODUCTION: "manufacture",
    _S.INTEGRATION: "integrate and install",
    _S.DISTRIBUTION: "distribute",
    _S.SERVICES: "provide services around",
    _S.END_USE: "operate and use",
    _S.RECYCLING: "repair, refurbish and recycle",
}
_STAGE_OFFERS: dict[Stage, str] = {
    _S.RESEARCH: "applied research, lab testing and validation",
    _S.DESIGN: "design and engineering",
    _S.MATERIALS: "materials and components",
    _S.PRODUCTION: "small- and mid-series production",
    _S.INTEGRATION: "system integration and commissioning",
    _S.DISTRIBUTION: "distribution and logistics",
    _S.SERVICES: "consulting, software and after-sales services",
    _S.END_USE: "pilot sites and real-world testing environments",
    _S.RECYCLING: "repair, refurbishment and recycling",
}
_STAGE_PARTNERS: dict[Stage, str] = {
    _S.RESEARCH: "research partners",
    _S.DESIGN: "design and engineering partners",
    _S.MATERIALS: "suppliers of materials and components",
    _S.PRODUCTION: "manufacturing partners",
    _S.INTEGRATION: "system integrators",
    _S.DISTRIBUTION: "distributors and logistics partners",
    _S.SERVICES: "specialised service providers",
    _S.END_USE: "end users and pilot customers",
    _S.RECYCLING: "recycling and circularity partners",
}
_COMPLEMENTS: dict[Stage, tuple[Stage, ...]] = {
    _S.RESEARCH: (_S.DESIGN, _S.PRODUCTION, _S.END_USE),
    _S.DESIGN: (_S.RESEARCH, _S.PRODUCTION, _S.MATERIALS),
    _S.MATERIALS: (_S.PRODUCTION, _S.RESEARCH, _S.RECYCLING),
    _S.PRODUCTION: (_S.MATERIALS, _S.DISTRIBUTION, _S.INTEGRATION, _S.END_USE),
    _S.INTEGRATION: (_S.PRODUCTION, _S.END_USE, _S.SERVICES),
    _S.DISTRIBUTION: (_S.PRODUCTION, _S.END_USE, _S.SERVICES),
    _S.SERVICES: (_S.END_USE, _S.INTEGRATION, _S.RESEARCH),
    _S.END_USE: (_S.SERVICES, _S.INTEGRATION, _S.PRODUCTION),
    _S.RECYCLING: (_S.PRODUCTION, _S.MATERIALS, _S.DISTRIBUTION),
}
_STAGE_SME_WEIGHT: dict[Stage, float] = {
    _S.RESEARCH: 0.6, _S.DESIGN: 1.0, _S.MATERIALS: 0.8, _S.PRODUCTION: 1.6, _S.INTEGRATION: 0.8,
    _S.DISTRIBUTION: 0.8, _S.SERVICES: 1.6, _S.END_USE: 0.4, _S.RECYCLING: 0.5,
}
_STAGE_CLUSTER_WEIGHT: dict[Stage, float] = {
    _S.RESEARCH: 1.6, _S.DESIGN: 1.0, _S.MATERIALS: 0.8, _S.PRODUCTION: 1.6, _S.INTEGRATION: 0.9,
    _S.DISTRIBUTION: 0.7, _S.SERVICES: 1.3, _S.END_USE: 0.6, _S.RECYCLING: 0.6,
}

_PURPOSES = (
    "scale up production", "enter new markets", "prepare a joint Horizon Europe proposal",
    "co-develop new products", "test our solutions with real users",
    "shorten our supply chain", "improve the circularity of our products",
    "respond to public tenders together", "build a demonstrator",
)
_CLUSTER_NOUNS = (
    "cluster organisation", "industry cluster", "innovation cluster", "business network",
    "cluster association", "competence network",
)
_CONSORTIUM_SIZES = (3, 4, 5, 6, 7, 8)
_CONSORTIUM_WEIGHTS = (30.0, 25.0, 18.0, 12.0, 9.0, 6.0)
# fmt: on


# --------------------------------------------------------------------------------------
# Description patterns. Placeholders are filled from a per-organisation value table;
# a pattern is skipped when one of its placeholders has an empty value.
# --------------------------------------------------------------------------------------

_CLUSTER_INTROS = (
    "{name} is {a_cluster_noun} bringing together {size} members active in {theme} across {where}.",
    "Founded in {year} in {place}, {name} connects companies, universities and public "
    "authorities working in {eco}.",
    "Based in {where}, {name} is a triple-helix {cluster_noun} focused on {product}.",
    "Since {year}, {name} has grown into a reference point for {theme} in {where}.",
    "{name} represents the {eco} community of {where}, from start-ups to established "
    "manufacturers.",
    "In {where}, {name} is the {theme} cluster, set up in {year} by industry, academia and "
    "the regional government.",
    "With {size} members from {where}, our association covers {product} and the value "
    "chains around them.",
    "The {theme} community of {where} is one of the liveliest in Europe, and {name} is its "
    "cluster organisation.",
    "Launched in {place} in {year}, {name} today counts {size} members.",
    "{name} is the meeting point for companies serving {customer} in {where}.",
    "{name} is a not-for-profit {cluster_noun} supporting {size} members in {theme}.",
    "With {size} members, {name} is among the {rank} {theme} networks in {country}.",
)
_SME_INTROS = (
    "{short} is a {size_adj} {company_noun} from {where} specialising in {product}.",
    "Founded in {year} in {place}, we are a team of {size} people working on {product}.",
    "{short} is {a_cadj} {company_noun} with {size} employees, active in {eco} since {year}.",
    "Based in {where}, {short} develops {product} for {customer}.",
    "Rooted in {where}, {short} serves {customer} with {product} and employs {size} people.",
    "{short} started in {year} as a university spin-off and now supplies {product}.",
    "Family-owned since {year}, {short} is {a_company_noun} in {where} focused on {product}.",
    "Our {size}-person team in {where} designs and delivers {product}.",
    "{short} was set up in {year} to bring {product} to {customer}.",
    "Headquartered in {where}, {short} is a {size_adj} {company_noun} in {eco}.",
)
_CLUSTER_ACTIVITY = (
    "Members are strongest in {stage_labels}, with a particular focus on {product}.",
    "Our members cover {stage_acts} in the {eco} value chain.",
    "The cluster's value chain spans {stage_acts}, and increasingly {product2}.",
    "Along the value chain, our companies are active in {stage_labels}, serving "
    "{customer} and {customer2}.",
    "Together, members {stage_verb} {product} for {customer}.",
    "Most member activity sits in {stage_labels}, backed by strong research partners.",
    "We organise the {eco} value chain around {stage_acts}.",
)
_SME_ACTIVITY = (
    "Our main activities are {stage_acts} in the {eco} value chain.",
    "We cover {stage_acts}, with a particular focus on {product}.",
    "Day to day, we {stage_verb} {product} for {customer}.",
    "Most of our work sits in {stage_labels}, mainly for {customer}.",
    "Our portfolio spans {stage_acts} and, increasingly, {product2}.",
    "Customers such as {customer} rely on us for {stage_acts}.",
    "We {stage_verb} {product}, working closely with {customer}.",
)
_TECH_COMMON = (
    "Core competences include {kws}.",
    "Our technology base covers {kws}.",
    "Recent work has focused on {kw1}, with growing activity in {kw2}.",
    "Key technologies are {kws}.",
    "{kw1} and {kw2} are at the heart of what we do.",
    "We invest steadily in {kw1}, {kw2} and {kw3}.",
)
_TECH_CLUSTER = (
    "Member expertise ranges from {kw1} to {kw2}.",
    "Thematic working groups deal with {kws}.",
    "Shared facilities give members access to know-how in {kw1} and {kw2}.",
)
_TECH_SME = (
    "Our engineers specialise in {kw1} and {kw2}.",
    "Our R&D team works on {kw1} and {kw3}.",
)
_MARKET_CLUSTER = (
    "Members sell to {customer} across Europe and beyond.",
    "We support members' internationalisation towards {targets}.",
    "Around {pct}% of member turnover comes from exports.",
    "Our internationalisation programme focuses on {targets}.",
    "From {place}, members reach customers in {neighbours}.",
)
_MARKET_SME = (
    "Our customers are mostly {customer} in {country} and neighbouring countries.",
    "About {pct}% of our turnover comes from exports, mainly within the EU.",
    "We now want to enter {targets}.",
    "Next on our list are {targets}, where demand for {product} is growing.",
    "Most of our clients are {customer}, and we already serve customers in {neighbours}.",
)
_AMBITION_COMMON = (
    "We are open to joint R&D, technology transfer and commercial partnerships.",
    "Sustainability is central to our strategy, from resource use to end-of-life.",
    "We want to strengthen our links with the {eco2} ecosystem.",
    "By {year2} we want to double our international activities.",
)
_AMBITION_CLUSTER = (
    "Our strategy to {year2} prioritises the green and digital transition of our members.",
    "We are keen to build cross-border value chains with clusters in related ecosystems "
    "such as {eco2}.",
    "Our next step is a European network of {theme} clusters sharing pilots and test beds.",
)
_AMBITION_SME = (
    "We aim to scale up {product} and to join EU-funded consortia.",
    "Our next step is a pilot with {customer} outside {country}.",
    "We are looking for partners to co-develop the next generation of {product}.",
)
_MEMBERSHIP_CLUSTER = (
    "Membership includes {n_sme} SMEs, {n_large} large companies and {n_rto} research "
    "organisations and universities.",
    "About {pct_sme}% of our members are SMEs; the rest are large companies, universities "
    "and public bodies.",
    "Members benefit from matchmaking, joint training, access to test facilities and help "
    "with funding applications.",
    "Our {size} members range from start-ups to multinationals, together with "
    "universities and technology centres.",
    "Services for members include market intelligence, B2B events and support for "
    "internationalisation.",
    "The cluster holds the {label} label of the European Cluster Excellence Initiative.",
)
_EXTRA_CLUSTER = (
    "We have coordinated or joined {n_proj} EU projects under Horizon Europe, Interreg and "
    "the Single Market Programme.",
    "Our team of {staff} cluster managers works in {langs}.",
    "We are an active partner in a European Strategic Cluster Partnership on {theme}.",
)
_EXTRA_SME = (
    "We hold ISO 9001 certification and work in {langs}.",
    "Our team works in {langs}.",
    "We have taken part in {n_proj} EU-funded projects so far.",
    "We joined our regional cluster in {year3} to find new partners.",
)

_CLUSTER_OFFERS = (
    "Access to {size} member organisations in {eco}, matchmaking with {partner} and "
    "support for joint project proposals.",
    "A network of {size} members covering {stage_acts}, plus test facilities and training "
    "in {kw1}.",
    "Partner search, joint pilots and internationalisation services for members active in "
    "{product}.",
    "Expertise in {kw1} and {kw2}, SMEs ready for pilots and experience in coordinating EU "
    "projects.",
)
_CLUSTER_SEEKS = (
    "Partner clusters in {targets} for joint projects on {kw1}.",
    "Clusters from the {eco2} ecosystem to build cross-sectoral value chains around {product}.",
    "{need} to complement our members' strengths in {stage_label}.",
    "Strategic partners for a European Strategic Cluster Partnership on {theme}.",
    "{need} in {targets}, to {purpose}.",
)
_SME_OFFERS = (
    "{offer} for {product}, backed by expertise in {kw1} and {kw2}.",
    "We offer {offer} in {eco}, in particular {product}.",
    "Proven {product} and know-how in {kw1}, available for licensing or co-development.",
    "{offer} with short lead times; strong in {kw1}.",
)
_SME_SEEKS = (
    "Looking for {need} in {targets} to {purpose}.",
    "{need} to {purpose}.",
    "Companies in the {eco2} ecosystem interested in {kw1}, to {purpose}.",
    "Distributors or agents in {targets}, and {need}.",
    "We seek {need} to {purpose}.",
)

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


def _join(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _article(phrase: str) -> str:
    """Prefix ``phrase`` with "a" or "an"."""
    vowel = phrase[:1].lower() in "aeiou" and not phrase.startswith(("Eu", "Uk", "Uni"))
    return ("an " if vowel or phrase.startswith("SME") else "a ") + phrase


def _lower_theme(theme: str) -> str:
    """Lower-case a theme for use inside a sentence, keeping acronyms."""
    return " ".join(w if w.isupper() and len(w) > 1 else w.lower() for w in theme.split())


def _fill(rng: random.Random, patterns: Sequence[str], values: Mapping[str, str]) -> str:
    usable = [p for p in patterns if all(values.get(k, "") for k in _PLACEHOLDER.findall(p))]
    pattern = rng.choice(usable)
    return _cap(_PLACEHOLDER.sub(lambda m: values[m.group(1)], pattern))


_ASCII_FOLD = str.maketrans(
    {"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "ß": "ss", "đ": "d",
     "Đ": "D", "ı": "i", "þ": "th", "ð": "d", "&": "and"}
)  # fmt: skip


def _slug(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.translate(_ASCII_FOLD))
    ascii_text = folded.encode("ascii", "ignore").decode("ascii").lower()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")
    return slug[:50].strip("-") or "org"


def _weighted_sample(
    rng: random.Random, items: Sequence[str], cum: Sequence[float], k: int
) -> list[str]:
    """Sample up to ``k`` distinct items with the given cumulative weights."""
    out: list[str] = []
    for _ in range(k * 8):
        if len(out) >= k:
            break
        item = rng.choices(items, cum_weights=cum)[0]
        if item not in out:
            out.append(item)
    return out


def _build_neighbours(codes: Sequence[str]) -> dict[str, list[str]]:
    neighbours: dict[str, list[str]] = {c: [] for c in codes}
    for pair in _BORDERS.split():
        a, b = pair.split("-")
        neighbours[a].append(b)
        neighbours[b].append(a)
    return {c: sorted(set(v)) for c, v in neighbours.items()}


def _random_date(rng: random.Random, start: dt.date, end: dt.date, bias: float = 1.0) -> dt.date:
    span = (end - start).days
    return start + dt.timedelta(days=min(span, int(span * rng.random() ** bias)))


# --------------------------------------------------------------------------------------
# Organisations
# --------------------------------------------------------------------------------------


@dataclass
class _Node:
    id: str
    kind: OrganisationKind
    country: str
    ecosystems: tuple[Ecosystem, ...]
    fitness: int


@dataclass(frozen=True)
class _Profile:
    """Random draws shared by an organisation's name, texts and fields."""

    kind: OrganisationKind
    country: str
    region: str | None
    place: str
    place_adj: str
    ecosystems: tuple[Ecosystem, ...]
    stages: tuple[Stage, ...]
    keywords: tuple[str, ...]
    targets: tuple[str, ...]
    size: int
    languages: tuple[str, ...]
    year: int


class _Generator:
    """Holds the random stream and lookup tables of one generation run."""

    def __init__(self, seed: int, start_year: int, end_year: int) -> None:
        self.rng = random.Random(seed)
        self.start_year = start_year
        self.end_year = end_year
        self.codes: list[str] = [*EU27, *ASSOCIATED]
        self.neighbours = _build_neighbours(self.codes)
        self.country_cum = self._cum([_COUNTRIES[c].weight for c in self.codes])
        self.macros: dict[str, list[str]] = {c: [] for c in self.codes}
        for macro, members in _MACRO_REGIONS.items():
            for code in members:
                self.macros[code].append(macro)
        # Target-market draw per home country: neighbours and big economies preferred.
        self.target_items: dict[str, list[str]] = {}
        self.target_cum: dict[str, list[float]] = {}
        for home in self.codes:
            others = [c for c in self.codes if c != home]
            weights = [
                _COUNTRIES[c].weight * (4.0 if c in self.neighbours[home] else 1.0) for c in others
            ]
            self.target_items[home] = others
            self.target_cum[home] = self._cum(weights)
        self.ecos: list[Ecosystem] = list(Ecosystem)
        self.stages: list[Stage] = list(Stage)

    @staticmethod
    def _cum(weights: Sequence[float]) -> list[float]:
        out: list[float] = []
        total = 0.0
        for w in weights:
            total += w
            out.append(total)
        return out

    # -- profile draws ------------------------------------------------------------------

    def _ecosystems(self, country: str, kind: OrganisationKind) -> tuple[Ecosystem, ...]:
        rng = self.rng
        special = _COUNTRIES[country].specialisations
        weights = [_ECOS[e].weight * (2.5 if e in special else 1.0) for e in self.ecos]
        primary = rng.choices(self.ecos, weights=weights)[0]
        counts = (0.3, 0.45, 0.25) if kind is OrganisationKind.CLUSTER else (0.55, 0.35, 0.1)
        n = rng.choices((1, 2, 3), weights=counts)[0]
        chosen = [primary]
        while len(chosen) < n:
            if rng.random() < 0.8:
                extra = rng.choice(_ECOS[primary].related)
            else:
                extra = rng.choice(self.ecos)
            if extra not in chosen:
                chosen.append(extra)
        return tuple(chosen)

    def _stages(self, primary: Ecosystem, kind: OrganisationKind) -> tuple[Stage, ...]:
        rng = self.rng
        if kind is OrganisationKind.CLUSTER:
            n = rng.choices((1, 2, 3), weights=(0.1, 0.35, 0.55))[0]
            base = _STAGE_CLUSTER_WEIGHT
        else:
            n = rng.choices((1, 2), weights=(0.6, 0.4))[0]
            base = _STAGE_SME_WEIGHT
        typical = _ECOS[primary].stages
        weights = [base[s] * (6.0 if s in typical else 0.4) for s in self.stages]
        chosen: list[Stage] = []
        while len(chosen) < n:
            stage = rng.choices(self.stages, weights=weights)[0]
            if stage not in chosen:
                chosen.append(stage)
        order = {s: i for i, s in enumerate(self.stages)}
        return tuple(sorted(chosen, key=order.__getitem__))

    def _keywords(self, ecosystems: tuple[Ecosystem, ...]) -> tuple[str, ...]:
        rng = self.rng
        n = rng.randint(3, 8)
        if len(ecosystems) > 1 and n >= 4 and rng.random() < 0.6:
            extra_n = rng.randint(1, min(2, n - 3))
        else:
            extra_n = 0
        words = rng.sample(_ECOS[ecosystems[0]].keywords, n - extra_n)
        for _ in range(extra_n):
            pool = [k for k in _ECOS[rng.choice(ecosystems[1:])].keywords if k not in words]
            words.append(rng.choice(pool))
        return tuple(words)

    def _profile(self, kind: OrganisationKind) -> _Profile:
        rng = self.rng
        country = rng.choices(self.codes, cum_weights=self.country_cum)[0]
        info = _COUNTRIES[country]
        code, place, place_adj = rng.choice(info.places)
        region = code if code is not None and rng.random() < 0.85 else None
        ecosystems = self._ecosystems(country, kind)
        stages = self._stages(ecosystems[0], kind)
        keywords = self._keywords(ecosystems)
        if kind is OrganisationKind.CLUSTER:
            n_targets = rng.choice((0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5))
            size = 0  # set from fitness by the caller
            year = rng.randint(1995, self.end_year - 3)
            en_share = 0.9
        else:
            n_targets = rng.choices((1, 2, 3, 4), weights=(35, 35, 20, 10))[0]
            size = round(math.exp(rng.gauss(math.log(16.0), 1.0)))
            size = max(3, min(249, size))
            year = self.end_year - 1 - int(rng.expovariate(1 / 12))
            year = max(1950, year)
            en_share = 0.75
        targets = tuple(
            _weighted_sample(rng, self.target_items[country], self.target_cum[country], n_targets)
        )
        langs = list(_REGION_LANGUAGES.get(code or "", info.languages))
        if rng.random() < en_share:
            langs.append("en")
        return _Profile(
            kind=kind,
            country=country,
            region=region,
            place=place,
            place_adj=place_adj,
            ecosystems=ecosystems,
            stages=stages,
            keywords=keywords,
            targets=targets,
            size=size,
            languages=tuple(dict.fromkeys(langs)),
            year=year,
        )

    # -- names ------------------------------------------------------------------------

    def _area_word(self, p: _Profile) -> str:
        """Pick a place-like word for a cluster name: region adjective, place, nation, macro."""
        rng = self.rng
        r = rng.random()
        if r < 0.12 and self.macros[p.country]:
            return rng.choice(self.macros[p.country])
        if r < 0.30:
            return _COUNTRIES[p.country].adjective
        if p.place_adj and r < 0.65:
            return p.place_adj
        return p.place

    def _cluster_name(self, p: _Profile, theme: str) -> str:
        rng = self.rng
        eco = _ECOS[p.ecosystems[0]]
        area = self._area_word(p)
        place = p.place
        acronym = (rng.choice(eco.stems) + rng.choice(_ACRONYM_TAILS)).upper()
        patterns = (
            f"{area} {theme} Cluster",
            f"{area} {theme} Innovation Cluster",
            f"{theme} Cluster {place}",
            f"Cluster {theme} {place}",
            f"{area} {theme} Network",
            f"{area} {theme} Alliance",
            f"{place} {theme} Hub",
            f"{area} {theme} Competence Network",
            f"{area} {theme} Association",
            f"{place} {theme} Valley",
            f"{acronym} {area} {theme} Cluster",
            f"{acronym} Cluster",
            f"{theme} Platform {place}",
        )
        weights = (14, 10, 8, 5, 9, 5, 5, 4, 4, 2, 5, 3, 3)
        return rng.choices(patterns, weights=weights)[0]

    def _sme_name(self, p: _Profile) -> tuple[str, str]:
        """Return the full legal name and the short trading name."""
        rng = self.rng
        eco = _ECOS[p.ecosystems[0]]
        legal = rng.choice(_COUNTRIES[p.country].legal)
        trade = rng.choice(eco.trades) if rng.random() < 0.55 else rng.choice(_GENERIC_TRADES)
        coined = rng.choice(eco.stems) + rng.choice(_SME_TAILS)
        surnames = _SURNAMES.get(p.country, ())
        r = rng.random()
        if r < 0.40:
            short = f"{coined} {trade}"
        elif r < 0.55:
            short = coined
        elif r < 0.67 and surnames:
            short = f"{rng.choice(surnames)} {trade}"
        elif r < 0.72 and len(surnames) > 1:
            a, b = rng.sample(surnames, 2)
            short = f"{a} & {b}"
        elif r < 0.84:
            short = f"{p.place} {trade}"
        else:
            short = f"{rng.choice(_NATURE_ADJ)} {rng.choice(_NATURE_NOUN)} {trade}"
        return f"{short} {legal}", short

    # -- texts ------------------------------------------------------------------------

    def _values(self, p: _Profile, name: str, short: str, theme: str) -> dict[str, str]:
        rng = self.rng
        info = _COUNTRIES[p.country]
        eco = _ECOS[p.ecosystems[0]]
        secondary = p.ecosystems[1] if len(p.ecosystems) > 1 else rng.choice(eco.related)
        products = rng.sample(eco.products, 2)
        customers = rng.sample(eco.customers, 2)
        kws = list(p.keywords)
        rng.shuffle(kws)
        country_name = info.name
        where_options = [p.place, f"{p.place}, {country_name}"]
        if p.place != country_name:
            where_options.append(f"{p.place} ({country_name})")
        where = rng.choice(where_options) if rng.random() < 0.85 else country_name
        nb = self.neighbours[p.country]
        nb_names = [_COUNTRIES[c].name for c in rng.sample(nb, min(2, len(nb)))]
        size = p.size
        n_large = max(1, round(size * rng.uniform(0.05, 0.15)))
        n_rto = max(2, round(size * rng.uniform(0.05, 0.15)))
        n_sme = max(1, size - n_large - n_rto - round(size * rng.uniform(0.0, 0.12)))
        if p.kind is OrganisationKind.CLUSTER:
            size_adj = ""
            company_noun = ""
        else:
            size_adj = "small" if size < 50 else "medium-sized"
            if p.year >= self.end_year - 5 and size < 30:
                company_noun = "start-up"
            elif _S.PRODUCTION in p.stages:
                company_noun = rng.choice(("manufacturer", "company", "SME"))
            elif _S.SERVICES in p.stages:
                company_noun = rng.choice(("service provider", "company", "SME"))
            else:
                company_noun = rng.choice(("company", "SME", "technology company"))
        langs = [_LANGUAGE_NAMES.get(code, code) for code in p.languages]
        cluster_noun = rng.choice(_CLUSTER_NOUNS)
        return {
            "name": name,
            "short": short,
            "where": where,
            "place": p.place,
            "country": country_name,
            "cadj": info.adjective,
            "eco": eco.text,
            "eco2": _ECOS[secondary].text,
            "theme": _lower_theme(theme),
            "product": products[0],
            "product2": products[1],
            "customer": customers[0],
            "customer2": customers[1],
            "kw1": kws[0],
            "kw2": kws[1],
            "kw3": kws[2],
            "kws": _join(kws[:3]),
            "stage_acts": _join([_STAGE_ACTS[s] for s in p.stages]),
            "stage_labels": _join([s.label for s in p.stages]),
            "stage_label": rng.choice(p.stages).label,
            "stage_verb": _STAGE_VERBS[p.stages[0]],
            "year": str(p.year),
            "year2": str(self.end_year + rng.randint(2, 5)),
            "year3": str(rng.randint(max(p.year, self.end_year - 12), self.end_year - 1)),
            "size": str(size),
            "size_adj": size_adj,
            "company_noun": company_noun,
            "cluster_noun": cluster_noun,
            "a_cluster_noun": _article(cluster_noun),
            "a_cadj": _article(info.adjective),
            "a_company_noun": _article(company_noun) if company_noun else "",
            "rank": "largest" if size >= 250 else "most active",
            "n_sme": str(n_sme),
            "n_large": str(n_large),
            "n_rto": str(n_rto),
            "pct_sme": str(round(100 * n_sme / max(1, size))),
            "pct": str(rng.randrange(15, 75, 5)),
            "label": rng.choice(("Bronze", "Bronze", "Silver", "Silver", "Gold")),
            "n_proj": str(
                rng.randint(2, 25) if p.kind is OrganisationKind.CLUSTER else rng.randint(1, 6)
            ),
            "staff": str(rng.randint(3, 15)),
            "langs": _join(langs),
            "targets": _join([_COUNTRIES[c].name for c in p.targets]),
            "neighbours": _join(nb_names),
            "partner": _STAGE_PARTNERS[rng.choice(_COMPLEMENTS[p.stages[0]])],
            "offer": _STAGE_OFFERS[rng.choice(p.stages)],
            "need": self._need(p),
            "purpose": rng.choice(_PURPOSES),
        }

    def _need(self, p: _Profile) -> str:
        """Describe a complementary partner, ecosystem-specific where possible."""
        rng = self.rng
        eco = _ECOS[p.ecosystems[0]]
        wanted = [s for s in _COMPLEMENTS[rng.choice(p.stages)] if s not in p.stages]
        wanted = wanted or list(_COMPLEMENTS[p.stages[0]])
        stage = rng.choice(wanted)
        if stage in eco.needs and rng.random() < 0.8:
            return rng.choice(eco.needs[stage])
        if rng.random() < 0.5:
            other = _ECOS[rng.choice(eco.related)]
            return f"{_STAGE_PARTNERS[stage]} from the {other.text} ecosystem"
        return f"{_STAGE_PARTNERS[stage]} working in {eco.text}"

    def _description(self, p: _Profile, values: Mapping[str, str]) -> str:
        rng = self.rng
        cluster = p.kind is OrganisationKind.CLUSTER
        intro = _fill(rng, _CLUSTER_INTROS if cluster else _SME_INTROS, values)
        activity = _fill(rng, _CLUSTER_ACTIVITY if cluster else _SME_ACTIVITY, values)
        groups: list[tuple[str, ...]] = [
            _TECH_COMMON + (_TECH_CLUSTER if cluster else _TECH_SME),
            _MARKET_CLUSTER if cluster else _MARKET_SME,
            _AMBITION_COMMON + (_AMBITION_CLUSTER if cluster else _AMBITION_SME),
            _EXTRA_CLUSTER if cluster else _EXTRA_SME,
        ]
        if cluster:
            groups.append(_MEMBERSHIP_CLUSTER)
        rng.shuffle(groups)
        extras = [_fill(rng, g, values) for g in groups]
        want = rng.randint(3, 6) - 2
        body = [intro, activity]
        chosen = extras[:want]
        spare = extras[want:]

        def words(parts: list[str]) -> int:
            return sum(len(s.split()) for s in body + parts)

        while words(chosen) < 50 and spare:
            chosen.append(spare.pop(0))
        while words(chosen) > 110 and len(chosen) > 1:
            chosen.pop()
        if rng.random() < 0.5 and chosen:
            # Closing sentences first sometimes, for structural variety.
            chosen.insert(0, chosen.pop())
        sentences = body[:1] + chosen + body[1:] if rng.random() < 0.2 else body + chosen
        return " ".join(sentences)

    def organisation(
        self, index: int, kind: OrganisationKind, seen: set[str]
    ) -> tuple[Organisation, _Node]:
        """Draw one organisation and its graph node."""
        rng = self.rng
        p = self._profile(kind)
        theme = rng.choice(_ECOS[p.ecosystems[0]].themes)
        if kind is OrganisationKind.CLUSTER:
            org_id = f"CL-{index:05d}"
            fitness = int(min(40.0, rng.paretovariate(1.3)))
            size = int(20 + 14 * fitness * rng.uniform(0.6, 1.5) + rng.randint(0, 90))
            p = _replace_size(p, max(20, min(600, size)))
            name = self._cluster_name(p, theme)
            short = name
        else:
            org_id = f"SME-{index:05d}"
            fitness = 1
            name, short = self._sme_name(p)
        values = self._values(p, name, short, theme)
        description = self._description(p, values)
        while description in seen:
            values = self._values(p, name, short, theme)
            description = self._description(p, values)
        seen.add(description)
        cluster = kind is OrganisationKind.CLUSTER
        offers = _fill(rng, _CLUSTER_OFFERS if cluster else _SME_OFFERS, values)
        seeks = _fill(rng, _CLUSTER_SEEKS if cluster else _SME_SEEKS, values)
        updated = dt.datetime(self.end_year - 2, 1, 1, tzinfo=dt.UTC) + dt.timedelta(
            seconds=rng.randrange(2 * 365 * 86_400)
        )
        org = Organisation(
            id=org_id,
            name=name,
            kind=kind,
            country=p.country,
            region=p.region,
            description=description,
            ecosystems=list(p.ecosystems),
            stages=list(p.stages),
            keywords=list(p.keywords),
            offers=offers,
            seeks=seeks,
            target_countries=list(p.targets),
            size=p.size,
            languages=list(p.languages),
            website=f"https://www.{_slug(short)}.example",
            updated_at=updated,
        )
        node = _Node(org_id, kind, p.country, p.ecosystems, fitness)
        return org, node


def _replace_size(p: _Profile, size: int) -> _Profile:
    return _Profile(
        kind=p.kind,
        country=p.country,
        region=p.region,
        place=p.place,
        place_adj=p.place_adj,
        ecosystems=p.ecosystems,
        stages=p.stages,
        keywords=p.keywords,
        targets=p.targets,
        size=size,
        languages=p.languages,
        year=p.year,
    )


# --------------------------------------------------------------------------------------
# Collaborations
# --------------------------------------------------------------------------------------


class _Pools:
    """Urn lists for preferential attachment: a node appears once per unit of attraction."""

    def __init__(self) -> None:
        self.all: list[int] = []
        self.eco: dict[Ecosystem, list[int]] = {}
        self.country: dict[str, list[int]] = {}
        self.eco_country: dict[tuple[Ecosystem, str], list[int]] = {}

    def add(self, index: int, node: _Node, copies: int) -> None:
        items = [index] * copies
        self.all.extend(items)
        self.country.setdefault(node.country, []).extend(items)
        for eco in node.ecosystems:
            self.eco.setdefault(eco, []).extend(items)
            self.eco_country.setdefault((eco, node.country), []).extend(items)


class _GraphBuilder:
    """Draws the dated collaboration graph over generated nodes."""

    def __init__(self, gen: _Generator, nodes: list[_Node]) -> None:
        self.rng = gen.rng
        self.neighbours = gen.neighbours
        self.nodes = nodes
        self.start = dt.date(gen.start_year, 1, 1)
        self.end = dt.date(gen.end_year, 6, 30)
        self.anyone = _Pools()
        self.clusters = _Pools()
        for i, node in enumerate(nodes):
            self.anyone.add(i, node, node.fitness)
            if node.kind is OrganisationKind.CLUSTER:
                self.clusters.add(i, node, node.fitness)
        self.out: list[Collaboration] = []
        self.keys: set[tuple[str, str, str, str]] = set()

    def attract(self, index: int, copies: int = 1) -> None:
        node = self.nodes[index]
        self.anyone.add(index, node, copies)
        if node.kind is OrganisationKind.CLUSTER:
            self.clusters.add(index, node, copies)

    def tie(
        self, i: int, j: int, kind: CollaborationKind, date: dt.date, weight: float, ref: str
    ) -> None:
        a, b = sorted((self.nodes[i].id, self.nodes[j].id))
        key = (a, b, kind.value, ref)
        if a == b or key in self.keys:
            return
        self.keys.add(key)
        self.out.append(
            Collaboration(
                organisation_a=a,
                organisation_b=b,
                kind=kind,
                date=date,
                weight=min(1.0, weight),
                source_ref=ref,
            )
        )

    def pick(self, pools: _Pools, country: str, eco: Ecosystem) -> int | None:
        """Draw a partner: homophily by ecosystem and geography, then by attraction."""
        rng = self.rng
        r = rng.random()
        pool: list[int] | None
        if r < 0.30:
            pool = pools.eco_country.get((eco, country))
        elif r < 0.45:
            pool = pools.eco_country.get((eco, rng.choice(self.neighbours[country])))
        elif r < 0.80:
            pool = pools.eco.get(eco)
        elif r < 0.88:
            pool = pools.eco.get(rng.choice(_ECOS[eco].related))
        elif r < 0.94:
            pool = pools.country.get(country)
        else:
            pool = pools.all
        if not pool:
            pool = pools.eco.get(eco) or pools.all
        return rng.choice(pool) if pool else None

    def memberships(self) -> None:
        """SMEs join one (sometimes two) clusters of their own country and ecosystem."""
        rng = self.rng
        cl = self.clusters
        for i, node in enumerate(self.nodes):
            if node.kind is not OrganisationKind.SME or not cl.all:
                continue
            n = 2 if rng.random() < 0.15 else 1
            joined: list[int] = []
            for _ in range(n * 4):
                if len(joined) >= n:
                    break
                pool = cl.eco_country.get((node.ecosystems[0], node.country))
                if not pool or (joined and rng.random() < 0.5):
                    eco = rng.choice(node.ecosystems)
                    pool = cl.eco_country.get((eco, node.country)) or cl.country.get(node.country)
                if not pool:
                    nb = rng.choice(self.neighbours[node.country])
                    pool = cl.eco_country.get((node.ecosystems[0], nb)) or cl.eco.get(
                        node.ecosystems[0]
                    )
                if not pool:
                    pool = cl.all
                c = rng.choice(pool)
                if c in joined:
                    continue
                joined.append(c)
                date = _random_date(rng, self.start, self.end)
                self.tie(i, c, CollaborationKind.MEMBERSHIP, date, 1.0, "")
            for c in joined:
                self.attract(c)

    def projects(self, count: int) -> None:
        """Joint projects of 3-8 partners, in date order so attachment follows time."""
        rng = self.rng
        dates = sorted(_random_date(rng, self.start, self.end, 0.8) for _ in range(count))
        number = 0
        for date in dates:
            lead = rng.choice(self.anyone.all)
            node = self.nodes[lead]
            eco = node.ecosystems[0] if rng.random() < 0.7 else rng.choice(node.ecosystems)
            size = rng.choices(_CONSORTIUM_SIZES, weights=_CONSORTIUM_WEIGHTS)[0]
            members = [lead]
            for _ in range(size * 10):
                if len(members) >= size:
                    break
                cand = self.pick(self.anyone, node.country, eco)
                if cand is not None and cand not in members:
                    members.append(cand)
            if len(members) < 3:
                continue
            number += 1
            ref = f"DEMO-P{number:04d}"
            weight = 1.0 / (len(members) - 1)
            for x in range(len(members)):
                for y in range(x + 1, len(members)):
                    self.tie(
                        members[x], members[y], CollaborationKind.JOINT_PROJECT, date, weight, ref
                    )
            for m in members:
                self.attract(m)

    def events(self, count: int) -> None:
        """Cluster matchmaking events: a host meets 2-6 clusters, some guests meet too."""
        rng = self.rng
        cl = self.clusters
        if len(set(cl.all)) < 2:
            return
        for number in range(1, count + 1):
            host = rng.choice(cl.all)
            node = self.nodes[host]
            eco = rng.choice(node.ecosystems)
            guests: list[int] = []
            want = rng.randint(2, 6)
            for _ in range(want * 10):
                if len(guests) >= want:
                    break
                cand = self.pick(cl, node.country, eco)
                if cand is not None and cand != host and cand not in guests:
                    guests.append(cand)
            ref = f"DEMO-E{number:04d}"
            date = _random_date(rng, self.start, self.end, 0.8)
            for g in guests:
                self.tie(host, g, CollaborationKind.EVENT_MEETING, date, 0.5, ref)
            for x in range(len(guests)):
                for y in range(x + 1, len(guests)):
                    if rng.random() < 0.3:
                        self.tie(
                            guests[x], guests[y], CollaborationKind.EVENT_MEETING, date, 0.25, ref
                        )
            self.attract(host)

    def agreements(self, count: int) -> None:
        """Bilateral cluster cooperation agreements (MoUs)."""
        rng = self.rng
        cl = self.clusters
        if len(set(cl.all)) < 2:
            return
        for number in range(1, count + 1):
            a = rng.choice(cl.all)
            node = self.nodes[a]
            for _ in range(10):
                b = self.pick(cl, node.country, rng.choice(node.ecosystems))
                if b is not None and b != a:
                    date = _random_date(rng, self.start, self.end, 0.8)
                    ref = f"DEMO-A{number:04d}"
                    self.tie(a, b, CollaborationKind.AGREEMENT, date, 1.0, ref)
                    self.attract(a)
                    self.attract(b)
                    break


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------


def generate_demo(
    seed: int = 2026,
    clusters: int = 1500,
    smes: int = 3000,
    start_year: int = 2015,
    end_year: int = 2026,
) -> DemoData:
    """Generate a deterministic, synthetic demo data set.

    Args:
        seed: Seed of the random stream; the same arguments give identical output.
        clusters: Number of cluster organisations.
        smes: Number of SMEs.
        start_year: First year of collaboration dates (from 1 January).
        end_year: Last year of collaboration dates (up to 30 June); profiles are
            updated in the two years before it.

    Returns:
        The organisations (clusters first, then SMEs) and their collaborations.

    Raises:
        ValueError: a count is negative or the years are out of order.

    """
    if clusters < 0 or smes < 0:
        raise ValueError("clusters and smes must be non-negative")
    if not 1950 < start_year <= end_year:
        raise ValueError("need 1950 < start_year <= end_year")
    gen = _Generator(seed, start_year, end_year)
    organisations: list[Organisation] = []
    nodes: list[_Node] = []
    seen: set[str] = set()
    for i in range(1, clusters + 1):
        org, node = gen.organisation(i, OrganisationKind.CLUSTER, seen)
        organisations.append(org)
        nodes.append(node)
    for i in range(1, smes + 1):
        org, node = gen.organisation(i, OrganisationKind.SME, seen)
        organisations.append(org)
        nodes.append(node)

    graph = _GraphBuilder(gen, nodes)
    if len(nodes) >= 2:
        graph.memberships()
        graph.projects(round(0.4 * len(nodes)))
        graph.events(round(0.3 * clusters))
        graph.agreements(round(0.5 * clusters))
    _LOG.debug(
        "generated %d organisations and %d collaborations (seed %d)",
        len(organisations),
        len(graph.out),
        seed,
    )
    return DemoData(organisations=organisations, collaborations=graph.out)
