"""The controlled vocabularies of the canonical tables, with Russian and English labels.

One place for every allowed code and how it reads in a report: the schemas
(:mod:`evalkit.schemas`) take their allowed values from here, and reports in either
language draw their labels from here, so a Russian and an English report can never
disagree about what a category means.

Examples
--------
>>> from evalkit import labels
>>> labels.codes("case_type")
['ordinary', 'motivational', 'palliative']
>>> labels.label("case_type", "palliative")
'социальный паллиатив'
>>> labels.label("case_type", "palliative", lang="en")
'social palliative'
>>> labels.field_label("prior_removal", lang="en")
'prior official removal of a child'
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Term",
    "VOCABULARIES",
    "FIELDS",
    "SEPARATION_EVENTS",
    "CONTACT_SOURCES",
    "LANGS",
    "codes",
    "label",
    "labels_for",
    "field_label",
    "FIELD_VOCABULARY",
    "value_label",
]

LANGS = ("ru", "en")


@dataclass(frozen=True)
class Term:
    """One allowed value of a vocabulary: the code stored in the data and its labels."""

    code: str | int
    ru: str
    en: str

    def label(self, lang: str = "ru") -> str:
        _check_lang(lang)
        return self.ru if lang == "ru" else self.en


def _terms(*rows: tuple) -> tuple[Term, ...]:
    return tuple(Term(*row) for row in rows)


#: Every controlled vocabulary, by name. The order of the terms is the order reports use.
VOCABULARIES: dict[str, tuple[Term, ...]] = {
    "household": _terms(
        ("single_mother", "одинокая мать", "single mother"),
        ("single_father", "одинокий отец", "single father"),
        ("two_parents", "полная семья", "two parents"),
        ("other", "другое (родственники, опекун)", "other (relatives, guardian)"),
    ),
    "housing": _terms(
        ("own", "собственное жильё", "own housing"),
        ("rented", "съёмное жильё", "rented housing"),
        ("relatives", "у родственников, знакомых", "with relatives or friends"),
        ("none", "нет жилья", "no housing"),
    ),
    "rights_status": _terms(
        ("none", "не ограничены", "not restricted"),
        ("restricted", "ограничены в родительских правах", "parental rights restricted"),
        ("deprived", "лишены родительских прав", "parental rights deprived"),
    ),
    "sex": _terms(
        ("female", "девочка", "girl"),
        ("male", "мальчик", "boy"),
    ),
    "support": _terms(
        ("complex", "комплексное сопровождение", "complex support"),
        ("one_off", "разовая помощь", "one-off help"),
        ("redirected", "перенаправлена в другую службу", "redirected to another service"),
    ),
    "case_type": _terms(
        ("ordinary", "обычный", "ordinary"),
        ("motivational", "мотивационный", "motivational"),
        ("palliative", "социальный паллиатив", "social palliative"),
    ),
    "closure": _terms(
        ("success", "закрыт успешно", "closed successfully"),
        ("unsuccessful_family", "закрыт неуспешно (по инициативе семьи)",
         "closed unsuccessfully (by the family)"),
        ("unsuccessful_org", "закрыт неуспешно (по инициативе организации)",
         "closed unsuccessfully (by the organisation)"),
        ("redirected", "перенаправлен", "redirected"),
        ("ongoing", "продолжается", "ongoing"),
    ),
    "timepoint": _terms(
        ("intake", "при открытии случая", "at intake"),
        ("interim", "промежуточная оценка", "interim"),
        ("closure", "при закрытии случая", "at closure"),
        ("followup", "после закрытия (мониторинг)", "follow-up after closure"),
    ),
    "instrument": _terms(
        ("efo", "ЕФО (единая форма оценки)", "EFO (common assessment form)"),
    ),
    "domain": _terms(
        ("housing", "жильё", "housing"),
        ("material", "материальное положение", "material situation"),
        ("health", "здоровье", "health"),
        ("emotional_development", "эмоциональное развитие", "emotional development"),
        ("education", "образование и развитие", "education and development"),
        ("basic_care", "базовый уход", "basic care"),
        ("safety", "безопасность", "safety"),
        ("relationships", "детско-родительские отношения", "family relationships"),
    ),
    "level": _terms(
        (1, "кризисный", "crisis"),
        (2, "неудовлетворительный", "unsatisfactory"),
        (3, "удовлетворительный", "satisfactory"),
        (4, "благополучный", "well-off"),
    ),
    "event": _terms(
        ("removal", "отобрание (изъятие) ребёнка", "removal by the authorities"),
        ("voluntary_placement", "помещение в учреждение по заявлению",
         "voluntary placement in an institution"),
        ("relinquishment", "отказ от ребёнка", "relinquishment"),
        ("return_home", "возвращение ребёнка в семью", "return home"),
        ("rights_restricted", "ограничение в родительских правах", "parental rights restricted"),
        ("rights_deprived", "лишение родительских прав", "parental rights deprived"),
        ("rights_restored", "восстановление в правах / снятие ограничения",
         "parental rights restored"),
        ("died", "смерть ребёнка", "death of the child"),
        ("moved_away", "семья переехала", "family moved away"),
    ),
    "source": _terms(
        ("case_record", "записи куратора", "case record"),
        ("closure_report", "отчёт при закрытии случая", "closure report"),
        ("followup_visit", "мониторинговый визит", "follow-up visit"),
        ("volunteer", "волонтёр-куратор", "volunteer curator"),
        ("parent", "сообщение родителя", "parent's report"),
        ("informal", "неформальный контакт", "informal contact"),
        ("official", "орган опеки", "guardianship authority"),
    ),
    "service": _terms(
        ("case_work", "работа со случаем", "case work"),
        ("legal", "социально-правовая помощь", "legal help"),
        ("employment", "помощь в трудоустройстве", "employment help"),
        ("material", "материальная помощь", "material help"),
        ("practical", "практическая помощь семье", "practical help"),
        ("crisis_housing", "размещение в кризисном центре", "crisis-centre housing"),
        ("social_network", "активизация социального окружения", "social network activation"),
        ("child_psych", "психолого-педагогическая помощь детям", "help for children"),
        ("parenting", "детско-родительские отношения", "parent-child relationship work"),
        ("parent_psych", "психологическая помощь родителям", "psychological help for parents"),
        ("medical", "доступ к медицинской помощи", "access to medical care"),
        ("return_assistance", "содействие возвращению ребёнка", "help to return the child"),
    ),
}

#: Events that count as the child leaving the family (the survival studies' event).
SEPARATION_EVENTS: tuple[str, ...] = ("removal", "voluntary_placement", "relinquishment")

#: Sources a contact (an observation "is the child at home?") can come from.
CONTACT_SOURCES: tuple[str, ...] = (
    "case_record", "closure_report", "followup_visit", "volunteer", "parent", "informal",
)

#: Column labels for reports: canonical field name -> (Russian, English).
FIELDS: dict[str, tuple[str, str]] = {
    "family_id": ("семья", "family"),
    "child_id": ("ребёнок", "child"),
    "case_id": ("случай", "case"),
    "org": ("организация", "organisation"),
    "region": ("регион", "region"),
    "household": ("состав семьи", "household"),
    "parent_mental_illness": ("психическое заболевание родителя", "parent's mental illness"),
    "parent_intellectual_disability": ("сниженный интеллект родителя",
                                       "parent's reduced intellect"),
    "parent_substance_use": ("употребление ПАВ родителем", "parent's alcohol or drug use"),
    "parent_orphan_background": ("родитель — выпускник детского дома",
                                 "parent grew up in care"),
    "prior_removal": ("опыт официального отобрания ребёнка",
                      "prior official removal of a child"),
    "no_registration": ("нет регистрации / иностранное гражданство",
                        "no registration / foreign citizen"),
    "housing_at_intake": ("жильё при открытии случая", "housing at intake"),
    "stable_income_at_intake": ("стабильный доход при открытии случая",
                                "stable income at intake"),
    "rights_status_at_intake": ("родительские права при открытии случая",
                                "parental rights at intake"),
    "sex": ("пол", "sex"),
    "birth_month": ("месяц рождения", "month of birth"),
    "disability": ("ОВЗ / инвалидность", "disability"),
    "opened": ("дата открытия случая", "case opened"),
    "closed": ("дата закрытия случая", "case closed"),
    "support": ("вид помощи", "kind of support"),
    "case_type": ("тип случая", "case type"),
    "closure": ("итог закрытия", "closure outcome"),
    "crisis_centre": ("проживание в кризисном центре", "crisis-centre stay"),
    "case_manager": ("куратор случая", "case manager"),
    "date": ("дата", "date"),
    "timepoint": ("срез оценки", "assessment timepoint"),
    "instrument": ("инструмент", "instrument"),
    "domain": ("сфера", "domain"),
    "score": ("уровень", "level"),
    "event": ("событие", "event"),
    "source": ("источник", "source"),
    "living_with_family": ("живёт в семье", "living with the family"),
    "safe": ("в безопасности", "safe"),
    "service": ("услуга", "service"),
    "amount_rub": ("сумма, руб.", "amount, RUB"),
    "project": ("проект", "project"),
    "year": ("год", "year"),
    "expenses_rub": ("расходы, руб.", "expenses, RUB"),
}


def _check_lang(lang: str) -> None:
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {LANGS}, not {lang!r}")


def _vocabulary(name: str) -> tuple[Term, ...]:
    try:
        return VOCABULARIES[name]
    except KeyError:
        raise KeyError(f"unknown vocabulary {name!r}; known: {sorted(VOCABULARIES)}") from None


def codes(vocabulary: str) -> list:
    """The allowed codes of a vocabulary, in report order."""
    return [t.code for t in _vocabulary(vocabulary)]


def label(vocabulary: str, code, lang: str = "ru") -> str:
    """The label of one code in ``lang`` ("ru" or "en")."""
    for term in _vocabulary(vocabulary):
        if term.code == code:
            return term.label(lang)
    raise KeyError(f"{code!r} is not a code of vocabulary {vocabulary!r}; allowed: {codes(vocabulary)}")


def labels_for(vocabulary: str, lang: str = "ru") -> dict:
    """A mapping code -> label, e.g. for ``Series.map`` in a report table."""
    _check_lang(lang)
    return {t.code: t.label(lang) for t in _vocabulary(vocabulary)}


def field_label(field: str, lang: str = "ru") -> str:
    """The report label of a canonical column."""
    _check_lang(lang)
    try:
        ru, en = FIELDS[field]
    except KeyError:
        raise KeyError(f"no label for field {field!r}") from None
    return ru if lang == "ru" else en


#: Canonical columns whose values are codes of a vocabulary (column -> vocabulary), for
#: labelling a value when only its column is known (model terms, group labels).
FIELD_VOCABULARY: dict[str, str] = {
    "household": "household", "housing_at_intake": "housing", "rights_status_at_intake": "rights_status",
    "sex": "sex", "support": "support", "case_type": "case_type", "closure": "closure",
    "timepoint": "timepoint", "instrument": "instrument", "domain": "domain", "score": "level",
    "event": "event", "source": "source", "service": "service",
}


def value_label(field: str, value, lang: str = "ru") -> str:
    """How one value of a canonical column reads in a report: yes/no for booleans, the vocabulary
    label for coded columns, the value itself otherwise (also for a code the vocabulary lacks).

    >>> value_label("housing_at_intake", "none", "en"), value_label("prior_removal", True)
    ('no housing', 'да')
    """
    _check_lang(lang)
    if type(value).__name__ in ("bool", "bool_"):  # Python or numpy booleans, without importing numpy
        return {"ru": ("да", "нет"), "en": ("yes", "no")}[lang][0 if value else 1]
    vocabulary = FIELD_VOCABULARY.get(field)
    if vocabulary:
        try:
            return label(vocabulary, value, lang)
        except KeyError:
            pass
    return str(value)
