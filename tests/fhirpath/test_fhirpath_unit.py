"""Focused tests: the AST contract the SQL compiler relies on, and the semantics the suite only skims."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from carelake.fhir.fhirpath import (
    Date,
    DateTime,
    FhirPathError,
    FhirPathExecutionError,
    FhirPathSemanticError,
    FhirPathSyntaxError,
    Quantity,
    Time,
    evaluate,
    parse,
)
from carelake.fhir.fhirpath.ast import (
    Binary,
    External,
    Function,
    Identifier,
    Index,
    Indexer,
    Literal,
    Member,
    This,
    Total,
    TypeOp,
    TypeSpecifier,
    Unary,
)

PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "p1",
    "active": True,
    "name": [
        {"use": "official", "family": "Chalmers", "given": ["Peter", "James"]},
        {"use": "usual", "given": ["Jim"]},
    ],
    "birthDate": "1974-12-25",
    "_birthDate": {"extension": [{"url": "http://example.org/birthTime", "valueDateTime": "1974-12-25T14:35:45"}]},
    "deceasedBoolean": False,
    "managingOrganization": {"reference": "Organization/org-9"},
    "generalPractitioner": [{"reference": "#pr1"}],
    "contained": [{"resourceType": "Practitioner", "id": "pr1", "active": True}],
}
OBSERVATION: dict[str, Any] = {
    "resourceType": "Observation",
    "id": "o1",
    "status": "final",
    "subject": {"reference": "Patient/p1"},
    "valueQuantity": {"value": 72.5, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"},
    "effectiveDateTime": "2020-03-01T10:30:00+01:00",
}


# -- parser: AST shapes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Patient.name", Member(Identifier("Patient"), "name")),
        ("`given`", Identifier("given")),
        ("$this", This()),
        ("$index", Index()),
        ("$total", Total()),
        ("%'us-zip'", External("us-zip")),
        ("%`vs-x`", External("vs-x")),
        ("%resource", External("resource")),
        ("today()", Function(None, "today", ())),
        ("name[0]", Indexer(Identifier("name"), Literal(0, "integer"))),
        ("-1", Unary("-", Literal(1, "integer"))),
        ("{}", Literal(None, "null")),
        ("'a\\'b\\u0041'", Literal("a'bA", "string")),
        ("1.50", Literal(Decimal("1.50"), "decimal")),
        ("5L", Literal(5, "long")),
        ("@2015-02-04", Literal("2015-02-04", "date")),
        ("@2015T", Literal("2015T", "dateTime")),
        ("@2015-02-04T14:34:28Z", Literal("2015-02-04T14:34:28Z", "dateTime")),
        ("@T14:34", Literal("14:34", "time")),
        ("4 'mg'", Literal(Quantity(Decimal(4), "mg"), "quantity")),
        ("4 days", Literal(Quantity(Decimal(4), "day"), "quantity")),
        ("1 year", Literal(Quantity(Decimal(1), "year"), "quantity")),
        ("value is Quantity", TypeOp("is", Identifier("value"), TypeSpecifier(None, "Quantity"))),
        ("x as FHIR.string", TypeOp("as", Identifier("x"), TypeSpecifier("FHIR", "string"))),
        (
            "value.ofType(FHIR.Quantity)",
            Function(Identifier("value"), "ofType", (TypeSpecifier("FHIR", "Quantity"),)),
        ),
        ("x.is(string)", Function(Identifier("x"), "is", (TypeSpecifier(None, "string"),))),
        ("x.as(`Patient`)", Function(Identifier("x"), "as", (TypeSpecifier(None, "Patient"),))),
        ("a.contains('b')", Function(Identifier("a"), "contains", (Literal("b", "string"),))),
    ],
)
def test_ast_shapes(text: str, expected: object) -> None:
    assert parse(text) == expected


def test_precedence() -> None:
    # * binds tighter than +, and is tighter than or, implies is loosest and right associative
    assert parse("1 + 2 * 3") == Binary(
        "+", Literal(1, "integer"), Binary("*", Literal(2, "integer"), Literal(3, "integer"))
    )
    a, b, c = Identifier("a"), Identifier("b"), Identifier("c")
    assert parse("a or b and c") == Binary("or", a, Binary("and", b, c))
    assert parse("a implies b implies c") == Binary("implies", a, Binary("implies", b, c))
    assert parse("a - b - c") == Binary("-", Binary("-", a, b), c)
    # is binds tighter than | but looser than +
    assert parse("a | b is X") == Binary("|", a, TypeOp("is", b, TypeSpecifier(None, "X")))
    assert parse("a + b is X") == TypeOp("is", Binary("+", a, b), TypeSpecifier(None, "X"))
    # polarity is looser than invocation: -x.y is -(x.y)
    assert parse("-a.b") == Unary("-", Member(a, "b"))
    assert parse("a = b or c != d") == Binary("or", Binary("=", a, b), Binary("!=", c, Identifier("d")))
    assert parse("a in b and c contains d") == Binary("and", Binary("in", a, b), Binary("contains", c, Identifier("d")))


def test_comments_and_whitespace() -> None:
    assert parse("1 /* x */ + // y\n 2") == Binary("+", Literal(1, "integer"), Literal(2, "integer"))


@pytest.mark.parametrize("text", ["", "1 +", "2 + 2 /", "(1", "a.", "/* open", "'open", "@T14:34Z", "$foo", "a b"])
def test_syntax_errors(text: str) -> None:
    with pytest.raises(FhirPathSyntaxError) as info:
        parse(text)
    assert isinstance(info.value, ValueError)
    assert info.value.position >= 0


def test_parse_is_cached() -> None:
    assert parse("name.given") is parse("name.given")


# -- evaluation ----------------------------------------------------------------------------------


def test_navigation_and_types() -> None:
    assert evaluate(PATIENT, "name.given") == ["Peter", "James", "Jim"]
    assert evaluate(PATIENT, "Patient.name.family") == ["Chalmers"]
    assert evaluate(PATIENT, "Encounter.name") == []
    assert evaluate(PATIENT, "birthDate.is(date) and active.is(boolean) and name.given.first().is(string)") == [True]
    assert evaluate(PATIENT, "active.is(Boolean)") == [False]  # FHIR.boolean is not System.Boolean
    assert evaluate(PATIENT, "id.is(string) and id.is(id)") == [True]
    assert evaluate(PATIENT, "contained.first().type().name") == ["Practitioner"]


def test_choice_elements() -> None:
    assert evaluate(OBSERVATION, "value.value") == [Decimal("72.5")]
    assert evaluate(OBSERVATION, "value.ofType(Quantity).unit") == ["kg"]
    assert evaluate(OBSERVATION, "value is Quantity") == [True]
    assert evaluate(OBSERVATION, "value.as(Period)") == []
    assert evaluate(OBSERVATION, "value > 70 'kg' and value < 80000 'g'") == [True]
    assert evaluate(PATIENT, "deceased") == [False]
    with pytest.raises(FhirPathSemanticError):
        evaluate(OBSERVATION, "valueQuantity.unit")


def test_primitive_extensions() -> None:
    ext = "birthDate.extension('http://example.org/birthTime').value"
    assert evaluate(PATIENT, ext) == ["1974-12-25T14:35:45"]
    only_extension = {"resourceType": "Patient", "_gender": {"extension": [{"url": "u", "valueString": "x"}]}}
    assert evaluate(only_extension, "gender.exists()") == [True]
    assert evaluate(only_extension, "gender.hasValue()") == [False]
    assert evaluate(PATIENT, "birthDate.hasValue()") == [True]


def test_three_valued_logic() -> None:
    assert evaluate(None, "true and {}") == []
    assert evaluate(None, "false and {}") == [False]
    assert evaluate(None, "{} or true") == [True]
    assert evaluate(None, "{} implies false") == []
    assert evaluate(None, "false implies {}") == [True]
    assert evaluate(None, "true xor false") == [True]
    assert evaluate(None, "(true and 'x').empty()") == [False]  # a single non-boolean counts as true
    with pytest.raises(FhirPathExecutionError):
        evaluate(None, "(true | false).not()")


def test_empty_propagation_and_singletons() -> None:
    assert evaluate(PATIENT, "name.suffix + 1") == []
    assert evaluate(PATIENT, "name.suffix = 'x'") == []
    with pytest.raises(FhirPathExecutionError):
        evaluate(PATIENT, "name.given + 'x'")


def test_temporal_values() -> None:
    assert evaluate(None, "@2012-04-15 = @2012-04-15T10:00:00") == []
    assert evaluate(None, "@2018-03 < @2018-03-01") == []
    assert evaluate(None, "@2017-11-05T01:30:00.0-04:00 < @2017-11-05T01:15:00.0-05:00") == [True]
    assert evaluate(None, "@2012-04-15T15:30:31 = @2012-04-15T15:30:31.0") == [True]
    assert evaluate(None, "@2012-01-31 + 1 month") == [Date(2012, 2, 29)]
    assert evaluate(None, "@2019-01-01T00:00:00Z - 1 'h'") == [DateTime(2018, 12, 31, 23, 0, 0, None, 0)]
    assert evaluate(None, "@T23:30 + 1 hour") == [Time(0, 30)]
    assert evaluate(PATIENT, "birthDate < @1975") == [True]
    assert str(evaluate(None, "@2014-01-01T08.highBoundary(17)")[0]) == "2014-01-01T08:00:59.999-12:00"
    with pytest.raises(FhirPathExecutionError):
        evaluate(None, "@2019-01-01 + 1 'mo'")


def test_quantities_and_decimals() -> None:
    assert evaluate(None, "4 'g' = 4000 'mg'") == [True]
    assert evaluate(None, "4 'g' ~ 4040 'mg'") == [True]
    assert evaluate(None, "1 year = 1 'a'") == []
    assert evaluate(None, "7 days = 1 week") == [True]
    assert evaluate(None, "2.0 'cm' * 2.0 'm' = 0.040 'm2'") == [True]
    assert evaluate(None, "1.10 = 1.1 and 1.10 ~ 1.1") == [True]
    assert evaluate(None, "1 / 2") == [Decimal("0.5")]
    assert evaluate(None, "-7 div 2") == [-3]
    assert evaluate(None, "-7 mod 2") == [-1]
    assert evaluate(None, "1 / 0") == []
    assert evaluate(None, "'a ' ~ 'A'") == [True]
    assert evaluate(None, "1.587.lowBoundary(2)") == [Decimal("1.58")]
    assert evaluate(None, "1 'wk'.toString()") == ["1 'wk'"]


def test_functions() -> None:
    assert evaluate(PATIENT, "name.where(use = 'usual').given") == ["Jim"]
    assert evaluate(PATIENT, "name.select(given.first())") == ["Peter", "Jim"]
    assert evaluate(None, "(3 | 1 | 2).sort(-$this)") == [3, 2, 1]
    assert evaluate(None, "(1 | 2 | 3).aggregate($this + $total, 0)") == [6]
    assert evaluate(None, "'a,b'.split(',').join('-')") == ["a-b"]
    assert evaluate(PATIENT, "generalPractitioner.resolve().active") == [True]
    assert evaluate(PATIENT, "descendants().where($this is HumanName).count()") == [2]


def test_sql_on_fhir_keys() -> None:
    assert evaluate(PATIENT, "getResourceKey()") == ["p1"]
    assert evaluate(PATIENT, "managingOrganization.getReferenceKey()") == ["org-9"]
    assert evaluate(PATIENT, "managingOrganization.getReferenceKey(Organization)") == ["org-9"]
    assert evaluate(PATIENT, "managingOrganization.getReferenceKey(Patient)") == []
    assert evaluate(OBSERVATION, "subject.getReferenceKey(Patient) = %p.getResourceKey()", {"p": PATIENT}) == [True]


def test_variables() -> None:
    assert evaluate(PATIENT, "%x + 1", {"x": 41}) == [42]
    assert evaluate(PATIENT, "%many.count()", {"many": [1, 2, 3]}) == [3]
    assert evaluate(PATIENT, "%resource.id") == ["p1"]
    assert evaluate(None, "%`ext-foo`") == ["http://hl7.org/fhir/StructureDefinition/foo"]
    with pytest.raises(FhirPathExecutionError):
        evaluate(PATIENT, "%nope")


def test_semantic_errors() -> None:
    with pytest.raises(FhirPathSemanticError):
        evaluate(PATIENT, "name.nosuchfunction()")
    with pytest.raises(FhirPathSemanticError):
        evaluate(PATIENT, "name.where()")
    with pytest.raises(FhirPathError):
        evaluate(PATIENT, "name.given.as(nosuchtype)")


def test_strict_mode() -> None:
    assert evaluate(PATIENT, "Encounter.name") == []
    with pytest.raises(FhirPathSemanticError):
        evaluate(PATIENT, "Encounter.name", strict=True)
    with pytest.raises(FhirPathSemanticError):
        evaluate(PATIENT, "name.given1", strict=True)
    with pytest.raises(FhirPathSemanticError):
        evaluate(PATIENT, "children().first()", strict=True)


def test_output_values() -> None:
    assert evaluate(OBSERVATION, "value") == [OBSERVATION["valueQuantity"]]
    assert evaluate(None, "@2014-01-05T10:30") == [DateTime(2014, 1, 5, 10, 30)]
    assert evaluate(None, "10 'mg'") == [Quantity(Decimal(10), "mg")]
    assert evaluate([1, 2], "$this.count()") == [2]


def test_fhirpath_types_come_from_the_generated_model() -> None:
    """The hand-kept names are only what the generated R4 model lacks: every data type named is one of its types
    (bar the Quantity profiles), every resource type is its, and element types are its."""
    from carelake.fhir.fhirpath.model import DATATYPES, RESOURCE_TYPES, known_elements, table_type
    from carelake.fhir.model import r4

    model = r4()
    assert {t for t in DATATYPES if not model.knows(t)} == {"SimpleQuantity", "MoneyQuantity"}
    assert {*model.resource_types(), "Resource", "DomainResource"} - {"MetadataResource"} == RESOURCE_TYPES
    assert len(RESOURCE_TYPES) == 148 and {"Patient", "Bundle", "Parameters"} <= RESOURCE_TYPES
    assert table_type("Observation", "component") == "ObservationComponent"
    assert table_type("Timing", "repeat") == "TimingRepeat"
    assert table_type("Questionnaire.item", "extension") == "Extension"  # an unknown type's inherited element
    assert known_elements("SimpleQuantity") == known_elements("Quantity") >= {"value", "unit", "system", "code"}
