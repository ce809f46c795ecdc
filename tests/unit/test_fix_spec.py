"""Structural checks of the trimmed FIX 4.4 dictionary in fix_specs/FIX44.xml."""

from __future__ import annotations

import importlib.util
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SPEC_PATH = REPO_ROOT / "fix_specs" / "FIX44.xml"
TRIMMER_PATH = REPO_ROOT / "tools" / "trim_fix_spec.py"

EXPECTED_MSG_TYPES = {
    "0": "Heartbeat", "1": "TestRequest", "2": "ResendRequest", "3": "Reject", "4": "SequenceReset",
    "5": "Logout", "A": "Logon", "j": "BusinessMessageReject", "R": "QuoteRequest",
    "AG": "QuoteRequestReject", "S": "Quote", "Z": "QuoteCancel", "AI": "QuoteStatusReport",
    "AJ": "QuoteResponse", "D": "NewOrderSingle", "F": "OrderCancelRequest",
    "G": "OrderCancelReplaceRequest", "H": "OrderStatusRequest", "AF": "OrderMassStatusRequest",
    "8": "ExecutionReport", "9": "OrderCancelReject", "BN": "ExecutionAcknowledgement",
}


def _load_trimmer():
    module_spec = importlib.util.spec_from_file_location("trim_fix_spec", TRIMMER_PATH)
    module = importlib.util.module_from_spec(module_spec)
    # dataclasses resolve their module through sys.modules while the class body runs.
    sys.modules[module_spec.name] = module
    module_spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def spec_root() -> ET.Element:
    return ET.parse(SPEC_PATH).getroot()


def _referencing_sections(root: ET.Element) -> list[ET.Element]:
    return [root.find("header"), root.find("trailer"), *root.find("messages"), *root.find("components")]


def _refs(root: ET.Element, tag: str) -> set[str]:
    return {ref.get("name") for section in _referencing_sections(root) for ref in section.iter(tag)
            if ref is not section}


def _field_definitions(root: ET.Element) -> dict[str, ET.Element]:
    return {field.get("name"): field for field in root.find("fields")}


def test_exactly_the_listed_messages_are_present(spec_root):
    present = {msg.get("msgtype"): msg.get("name") for msg in spec_root.find("messages")}
    assert present == EXPECTED_MSG_TYPES


def test_admin_and_app_categories_match_the_standard(spec_root):
    admin_types = {msg.get("msgtype") for msg in spec_root.find("messages") if msg.get("msgcat") == "admin"}
    assert admin_types == {"0", "1", "2", "3", "4", "5", "A"}


def test_every_referenced_field_and_group_counter_is_defined(spec_root):
    referenced = _refs(spec_root, "field") | _refs(spec_root, "group")
    missing = referenced - set(_field_definitions(spec_root))
    assert not missing, f"undefined fields: {sorted(missing)}"


def test_every_referenced_component_is_defined_and_none_is_unused(spec_root):
    defined = {comp.get("name") for comp in spec_root.find("components")}
    referenced = _refs(spec_root, "component")
    assert referenced - defined == set()
    assert defined - referenced == set(), "trimmer should keep only referenced components"


def test_no_unreferenced_fields_are_kept(spec_root):
    referenced = _refs(spec_root, "field") | _refs(spec_root, "group")
    assert set(_field_definitions(spec_root)) - referenced == set()


def test_field_numbers_are_unique(spec_root):
    numbers = [field.get("number") for field in spec_root.find("fields")]
    assert len(numbers) == len(set(numbers))


def test_custom_field_definitions(spec_root):
    fields = _field_definitions(spec_root)
    execution_mode = fields["RfqExecutionMode"]
    assert (execution_mode.get("number"), execution_mode.get("type")) == ("5001", "CHAR")
    enum_values = {value.get("enum"): value.get("description") for value in execution_mode.iter("value")}
    assert enum_values == {"1": "AWAIT_ACCEPT", "2": "IMMEDIATE"}
    assert (fields["NbboBidPx"].get("number"), fields["NbboBidPx"].get("type")) == ("5002", "PRICE")
    assert (fields["NbboOfferPx"].get("number"), fields["NbboOfferPx"].get("type")) == ("5003", "PRICE")


def test_rfq_execution_mode_is_last_optional_field_of_quote_request_related_sym(spec_root):
    quote_request = spec_root.find("messages/message[@msgtype='R']")
    assert quote_request.find("component[@name='QuotReqGrp']") is not None
    group = spec_root.find("components/component[@name='QuotReqGrp']/group[@name='NoRelatedSym']")
    last_entry = list(group)[-1]
    assert (last_entry.tag, last_entry.get("name"), last_entry.get("required")) == \
        ("field", "RfqExecutionMode", "N")


def test_nbbo_fields_end_execution_report_as_optional(spec_root):
    execution_report = spec_root.find("messages/message[@msgtype='8']")
    tail = [(ref.tag, ref.get("name"), ref.get("required")) for ref in list(execution_report)[-2:]]
    assert tail == [("field", "NbboBidPx", "N"), ("field", "NbboOfferPx", "N")]


def test_custom_fields_appear_nowhere_else(spec_root):
    custom_names = {"RfqExecutionMode", "NbboBidPx", "NbboOfferPx"}
    places = [(section.get("name") or section.tag, ref.get("name"))
              for section in _referencing_sections(spec_root)
              for ref in section.iter("field") if ref.get("name") in custom_names]
    assert sorted(places) == [("ExecutionReport", "NbboBidPx"), ("ExecutionReport", "NbboOfferPx"),
                              ("QuotReqGrp", "RfqExecutionMode")]


def test_standard_required_flags_are_kept(spec_root):
    quote_request = spec_root.find("messages/message[@msgtype='R']")
    assert quote_request.find("field[@name='QuoteReqID']").get("required") == "Y"
    header = spec_root.find("header")
    assert header.find("field[@name='MsgSeqNum']").get("required") == "Y"
    assert spec_root.find("trailer/field[@name='CheckSum']").get("required") == "Y"


def test_regenerating_reproduces_committed_file_byte_for_byte():
    trimmer = _load_trimmer()
    source_path = trimmer.find_default_source()
    if source_path is None:
        tried = ", ".join(str(path) for path in trimmer.SOURCE_CANDIDATES)
        pytest.skip(f"no full QuickFIX FIX44.xml on this machine (tried {tried})")
    assert trimmer.trim_file(source_path) == SPEC_PATH.read_text(encoding="utf-8")


def test_quickfix_loads_the_dictionary():
    quickfix = pytest.importorskip("quickfix", reason="quickfix wheel not installed")
    data_dictionary = quickfix.DataDictionary(str(SPEC_PATH))
    assert data_dictionary.getVersion() == "FIX.4.4"
    assert data_dictionary.isField(5001)
    assert data_dictionary.isMsgField("8", 5002)
    assert data_dictionary.isGroup("R", 146)


def _raw_fix44(msg_type: str, body: list[tuple[int, str]]) -> str:
    simplefix = pytest.importorskip("simplefix")
    message = simplefix.FixMessage()
    for tag, value in [(8, "FIX.4.4"), (35, msg_type), (49, "REQ"), (56, "GW"), (34, "2"),
                       (52, "20240102-10:00:00.000")]:
        message.append_pair(tag, value, header=True)
    for tag, value in body:
        message.append_pair(tag, value)
    return message.encode().decode()


def test_quickfix_validates_quote_request_with_execution_mode_in_group():
    quickfix = pytest.importorskip("quickfix", reason="quickfix wheel not installed")
    data_dictionary = quickfix.DataDictionary(str(SPEC_PATH))
    raw = _raw_fix44("R", [(131, "QR-1"), (146, "1"), (55, "AAPL"), (54, "1"), (38, "100"), (44, "190.25"),
                           (5001, "2")])
    message = quickfix.Message(raw, data_dictionary, True)
    data_dictionary.validate(message)
    entry = quickfix.Group(146, 55)
    message.getGroup(1, entry)
    assert entry.getField(5001) == "2"
    assert not message.isSetField(5001)


def test_quickfix_accepts_nbbo_only_on_execution_report():
    quickfix = pytest.importorskip("quickfix", reason="quickfix wheel not installed")
    data_dictionary = quickfix.DataDictionary(str(SPEC_PATH))
    fill = [(37, "O1"), (17, "E1"), (150, "F"), (39, "2"), (55, "AAPL"), (54, "1"), (151, "0"), (14, "100"),
            (6, "190.20"), (5002, "190.19"), (5003, "190.21")]
    execution_report = quickfix.Message(_raw_fix44("8", fill), data_dictionary, True)
    data_dictionary.validate(execution_report)
    assert execution_report.getField(5002) == "190.19"
    quote = quickfix.Message(_raw_fix44("S", [(117, "Q1"), (55, "AAPL"), (5002, "190.19")]), data_dictionary, True)
    with pytest.raises(quickfix.TagNotDefinedForMessage):
        data_dictionary.validate(quote)
