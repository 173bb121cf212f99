"""Departments, service groups and services named in sv/en/ar from the directory's file;
without an Arabic (or English) name the Swedish one is shown, never an empty label."""

from __future__ import annotations

import html

import pytest
from sqlalchemy import select

from kontaktcenter.directory.models import Department, Service, ServiceGroup, localised
from tests.directory.test_load import load, write


def test_every_malmo_department_group_and_service_has_an_arabic_name(session):
    for model in (Department, ServiceGroup, Service):
        missing = session.scalars(select(model.code).where(model.name_ar.is_(None))).all()
        assert missing == [], f"{model.__tablename__} without name_ar: {missing}"


def test_arabic_names_are_loaded_from_the_file_and_updated_by_a_reload(runner, session, tmp_path):
    text = """\
[departments.vatten]
name_sv = "VA-förvaltningen"
name_en = "Water Administration"
name_ar = "إدارة المياه والصرف الصحي"

[service_groups.vatten]
name_sv = "Vatten och avlopp"
name_en = "Water and sewage"
"""
    result = load(runner, write(tmp_path, text))
    assert result.exit_code == 0, result.output
    vatten = session.scalar(select(Department).where(Department.code == "vatten"))
    group = session.scalar(select(ServiceGroup).where(ServiceGroup.code == "vatten"))
    assert vatten.name("ar") == "إدارة المياه والصرف الصحي"
    assert vatten.name("en") == "Water Administration"
    assert group.name("ar") == "Vatten och avlopp"  # no Arabic name: the Swedish one
    result = load(runner, write(tmp_path, text.replace("إدارة المياه والصرف الصحي", "إدارة المياه")))
    assert result.exit_code == 0, result.output
    session.expire_all()
    assert session.get(Department, vatten.id).name("ar") == "إدارة المياه"


def test_an_arabic_name_of_the_wrong_type_is_refused_with_its_line(runner, session, tmp_path):
    text = '[departments.vatten]\nname_sv = "VA"\nname_en = "Water"\nname_ar = 12\n'
    result = load(runner, write(tmp_path, text))
    assert result.exit_code == 1
    assert "directory.toml:4" in result.output
    assert session.scalar(select(Department).where(Department.code == "vatten")) is None


@pytest.mark.parametrize(
    ("locale", "en", "ar", "expected"),
    [("sv", "E", "A", "S"), ("en", "E", "A", "E"), ("ar", "E", "A", "A"), ("ar", "E", None, "S"), ("en", "", "A", "S")],
)
def test_localised_falls_back_to_swedish(locale, en, ar, expected):
    assert localised(locale, "S", en, ar) == expected


def test_the_arabic_form_lists_groups_and_services_in_arabic(client):
    page = html.unescape(client.get("/kontakt?lang=ar").get_data(as_text=True))
    assert '<optgroup label="رياض الأطفال والمدرسة">' in page
    assert ">اختيار المدرسة</option>" in page
    assert "School choice" not in page
    assert ">Skolval<" not in page


def test_the_english_form_lists_groups_and_services_in_english(client):
    page = html.unescape(client.get("/kontakt?lang=en").get_data(as_text=True))
    assert '<optgroup label="Preschool and school">' in page
    assert ">School choice</option>" in page
