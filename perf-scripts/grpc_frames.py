#!/usr/bin/env python3
"""Pre-encodes gRPC request frames for h2load and decodes replies, without a protobuf library.

  grpc_frames.py apply CART_ID OUT      an ApplyRequest whose batch stays valid forever:
                                        AddItem(sku "h2load", qty 1) then ChangeQuantity(line 1, qty 1)
  grpc_frames.py get CART_ID OUT        a GetRequest
  grpc_frames.py check-apply REPLY      exits 1 if the ApplyResult reply carries any mutation error
"""
import struct
import sys


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field_varint(number, value):
    return varint(number << 3) + varint(value)


def field_bytes(number, data):
    return varint((number << 3) | 2) + varint(len(data)) + data


def any_of(type_name, payload):
    return field_bytes(1, f"type.googleapis.com/{type_name}".encode()) + field_bytes(2, payload)


def frame(message):
    return struct.pack(">BI", 0, len(message)) + message


def apply_request(cart_id):
    add = field_bytes(1, b"h2load") + field_bytes(2, b"load item") + field_varint(4, 1) + field_varint(5, 1000) + field_varint(7, 2500)
    change = field_varint(1, 1) + field_varint(2, 1)
    return (field_varint(1, cart_id)
            + field_bytes(2, any_of("cart_messages.AddItem", add))
            + field_bytes(2, any_of("cart_messages.ChangeQuantity", change)))


def get_request(cart_id):
    return field_varint(1, cart_id)


def read_varint(data, i):
    shift = result = 0
    while True:
        b = data[i]
        i += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return result, i


def fields(data):
    i = 0
    while i < len(data):
        key, i = read_varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = read_varint(data, i)
        elif wire == 2:
            length, i = read_varint(data, i)
            value, i = data[i:i + length], i + length
        else:
            raise ValueError(f"unexpected wire type {wire}")
        yield number, value


def check_apply(path):
    data = open(path, "rb").read()
    if len(data) < 5:
        print("no gRPC message in the reply (see grpc-status)", file=sys.stderr)
        return 1
    _, length = struct.unpack(">BI", data[:5])
    errors = []
    for number, value in fields(data[5:5 + length]):
        if number == 2:  # ApplyResult.mutations
            result = dict(fields(value))
            if 3 in result:
                errors.append(f"{result.get(1, b'').decode()}: {result[3].decode()}")
    for e in errors:
        print("mutation error:", e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "apply":
        open(sys.argv[3], "wb").write(frame(apply_request(int(sys.argv[2]))))
    elif cmd == "get":
        open(sys.argv[3], "wb").write(frame(get_request(int(sys.argv[2]))))
    elif cmd == "check-apply":
        sys.exit(check_apply(sys.argv[2]))
    else:
        sys.exit(__doc__)
