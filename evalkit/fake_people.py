"""Fake personal data for the synthetic raw exports (names, phones, addresses, birth dates).

Real exports carry personal data; the synthetic ones must too, so that the cleaning step
is tested on removing it. Everything here is invented and drawn vectorised from short
lists, so a million children take well under a second. Nothing from here may ever reach
``data_clean/`` or a report.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["women", "men", "children_names", "phones", "addresses", "staff"]

_SURNAMES_M = np.array("""Иванов Смирнов Кузнецов Попов Васильев Петров Соколов Михайлов Новиков Фёдоров Морозов
Волков Алексеев Лебедев Семёнов Егоров Павлов Козлов Степанов Николаев Орлов Андреев Макаров Никитин Захаров
Зайцев Соловьёв Борисов Яковлев Григорьев Романов Воробьёв Сергеев Кузьмин Фролов Александров Дмитриев Королёв
Гусев Киселёв Ильин Максимов Поляков Сорокин Виноградов Ковалёв Белов Медведев Антонов Тарасов Жуков Баранов
Филиппов Комаров Давыдов Беляев Герасимов Богданов Осипов Сидоров Матвеев Титов Марков Миронов Крылов Куликов
Карпов Власов Мельников Денисов Гаврилов Тихонов Казаков Афанасьев Данилов Савельев Тимофеев Фомин Чернов
Абрамов Мартынов Ефимов Федотов Щербаков Назаров Калинин Исаев Чернышёв Быков Маслов Родионов Коновалов
Лазарев Воронин Климов Филатов Пономарёв Голубев Кудрявцев Прохоров Наумов Потапов Журавлёв Овчинников Трофимов
Леонов Соболев Ермаков Колесников Гончаров Емельянов Никифоров Грачёв Котов Гришин Ефремов Архипов Громов
Кириллов Малышев Панов Моисеев Румянцев Акимов Кондратьев Бирюков Горбунов Анисимов Ерёмин Тихомиров Галкин
Лукьянов Михеев Скворцов Юдин Белоусов Нестеров Симонов Прокофьев Харитонов Князев Цветков Левин Митрофанов
Воронцов Агафонов""".split())
_FIRST_F = np.array("""Анна Мария Елена Ольга Наталья Ирина Татьяна Светлана Екатерина Юлия Анастасия Дарья
Марина Людмила Галина Оксана Виктория Ксения Алёна Надежда Валентина Евгения Кристина Алина Любовь Вера Полина
Олеся Яна Диана Вероника Зарина Гульнара Лилия Нина Лариса Жанна Инна Алла Маргарита""".split())
_FIRST_M = np.array("""Александр Сергей Дмитрий Андрей Алексей Максим Иван Михаил Николай Владимир Евгений Артём
Роман Павел Денис Игорь Олег Антон Виктор Кирилл Илья Никита Егор Тимур Руслан Вадим Константин Юрий Григорий
Степан Фёдор Марат Арсений Матвей Глеб Богдан Даниил Лев Тимофей Ярослав""".split())
_PATRONYMIC_ROOTS = np.array("""Александров Сергеев Дмитриев Андреев Алексеев Иванов Михайлов Николаев Владимиров
Евгеньев Романов Павлов Викторов Олегов Юрьев Григорьев Степанов Фёдоров Петров Васильев""".split())
_STREETS = np.array("""Ленина Гагарина Мира Советская Садовая Школьная Лесная Молодёжная Центральная Заречная
Набережная Новая Полевая Строителей Комсомольская Пушкина Чехова Лермонтова Луговая Октябрьская Первомайская
Зелёная Южная Северная Рабочая Парковая Кирова Свободы Победы Солнечная""".split())
_TOWNS = np.array("""Москва Подольск Химки Балашиха Мытищи Люберцы Коломна Электросталь Одинцово Серпухов
Щёлково Орехово-Зуево Дмитров Клин Ногинск Сергиев_Посад Егорьевск Чехов Раменское Пушкино""".split())
_TOWNS = np.char.replace(_TOWNS.astype(str), "_", " ").astype(object)


def _pick(rng, arr, n):
    return arr[rng.integers(0, len(arr), n)]


def _fem(surnames: np.ndarray) -> np.ndarray:
    """Feminine form of a Russian surname in -ов/-ев/-ин/-ёв."""
    return np.char.add(surnames.astype(str), "а")


def women(rng, n: int) -> np.ndarray:
    """Full names (surname, first name, patronymic) of women."""
    pat = np.char.add(_pick(rng, _PATRONYMIC_ROOTS, n).astype(str), "на")
    return np.char.add(np.char.add(np.char.add(np.char.add(_fem(_pick(rng, _SURNAMES_M, n)), " "),
                                               _pick(rng, _FIRST_F, n).astype(str)), " "), pat).astype(object)


def men(rng, n: int) -> np.ndarray:
    pat = np.char.add(_pick(rng, _PATRONYMIC_ROOTS, n).astype(str), "ич")
    return np.char.add(np.char.add(np.char.add(np.char.add(_pick(rng, _SURNAMES_M, n).astype(str), " "),
                                               _pick(rng, _FIRST_M, n).astype(str)), " "), pat).astype(object)


def children_names(rng, surnames_root: np.ndarray, female: np.ndarray) -> np.ndarray:
    """Child's surname (the family's, in the child's gender) and first name."""
    n = len(female)
    sur = np.where(female, _fem(surnames_root), surnames_root.astype(str))
    first = np.where(female, _pick(rng, _FIRST_F, n), _pick(rng, _FIRST_M, n)).astype(str)
    return np.char.add(np.char.add(sur, " "), first).astype(object)


def surname_roots(rng, n: int) -> np.ndarray:
    return _pick(rng, _SURNAMES_M, n)


def phones(rng, n: int) -> np.ndarray:
    """Russian mobile numbers written the three ways people type them."""
    s = pd.Series((9_000_000_000 + rng.integers(0, 1_000_000_000, n)).astype(str))
    a, b, c, d = s.str[:3], s.str[3:6], s.str[6:8], s.str[8:]
    style = rng.integers(0, 3, n)
    out = np.where(style == 0, "+7 (" + a + ") " + b + "-" + c + "-" + d,
                   np.where(style == 1, "8" + s, "8-" + a + "-" + b + "-" + c + "-" + d))
    return out.astype(object)


def addresses(rng, n: int) -> np.ndarray:
    town = _pick(rng, _TOWNS, n).astype(str)
    street = _pick(rng, _STREETS, n).astype(str)
    house = rng.integers(1, 120, n).astype(str)
    flat = rng.integers(1, 300, n).astype(str)
    out = np.char.add(np.char.add(np.char.add(np.char.add("г. ", town), ", ул. "), street), ", д. ")
    return np.char.add(np.char.add(np.char.add(out, house), ", кв. "), flat).astype(object)


def staff(rng, n: int) -> np.ndarray:
    """Case managers' names (staff are people too: pseudonymised in clean data)."""
    return women(rng, n)
