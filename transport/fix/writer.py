"""Building outbound QuickFIX messages from plain values (no floats)."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import quickfix as fix

from transport.fix.reader import format_decimal, format_utc_timestamp


def new_message(msg_type: str) -> fix.Message:
    message = fix.Message()
    message.getHeader().setField(fix.BeginString("FIX.4.4"))
    message.getHeader().setField(fix.MsgType(msg_type))
    return message


def put(field_map: fix.FieldMap, tag: int, value: object) -> None:
    """Set a field unless the value is None; Decimals and datetimes get FIX formatting."""
    if value is None:
        return
    if isinstance(value, float):
        raise TypeError(f"tag {tag}: floats are not allowed for FIX values")
    if isinstance(value, Decimal):
        text = format_decimal(value)
    elif isinstance(value, datetime):
        text = format_utc_timestamp(value)
    else:
        text = str(value)
    field_map.setField(tag, text)  # the (int, str) overload: no StringField object built and dropped


def new_group(count_tag: int, delimiter_tag: int, member_tags: list[int]) -> fix.Group:
    """A repeating-group entry whose fields serialise in the dictionary's order."""
    order = fix.IntArray(len(member_tags) + 1)
    for index, tag in enumerate(member_tags):
        order[index] = tag
    order[len(member_tags)] = 0
    return fix.Group(count_tag, delimiter_tag, order)
