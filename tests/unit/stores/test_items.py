"""DynamoDB attribute maps, written out by the stores (boto3's serializer is not loaded at cold start)."""

from decimal import Decimal

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from bankupdate.stores.items import from_item, to_item, to_value

RECORD = {
    "update_id": "ab" * 16,
    "status": "SUCCEEDED",
    "version": 3,
    "balance": 1234.56,
    "tiny": 1e-07,
    "confirmed": True,
    "challenge": None,
    "known_account_ids": [1, 2, 3],
    "result": {"accounts": [{"account_id": 7, "balance": -0.5, "iban": "", "status": "UPDATED"}]},
}


def test_records_become_the_attribute_maps_boto3_would_make() -> None:
    # Given a record's JSON form (floats, ints, booleans, nulls, nested lists and maps, an empty string)
    # When it is turned into a DynamoDB item
    item = to_item(RECORD)
    # Then it is what boto3's serializer makes of the same values (None attributes are left out of the item)
    serializer = TypeSerializer()
    plain = {k: v for k, v in RECORD.items() if v is not None}
    expected = {
        k: serializer.serialize(Decimal(str(v)) if isinstance(v, float) else _decimals(v)) for k, v in plain.items()
    }
    assert item == expected
    assert to_value(None) == {"NULL": True} and to_value([1.5]) == {"L": [{"N": "1.5"}]}


def test_items_read_back_as_the_record_they_were_made_from() -> None:
    # Given the item of a record
    item = to_item(RECORD)
    # When it is read back
    back = from_item(item)
    # Then every value is what it was (integral numbers as ints, others as floats)
    assert back == {k: v for k, v in RECORD.items() if v is not None}
    assert isinstance(back["version"], int) and isinstance(back["balance"], float)
    # And boto3's deserializer reads the same item alike
    assert {k: TypeDeserializer().deserialize(v) for k, v in item.items()}["version"] == 3


def _decimals(value: object) -> object:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, list):
        return [_decimals(v) for v in value]
    if isinstance(value, dict):
        return {k: _decimals(v) for k, v in value.items()}
    return value
