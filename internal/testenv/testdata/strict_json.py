#!/usr/bin/env python3
"""Decode JSON the strict way a Python client would, failing on what Mesos'
JSON writer never produces: null (anywhere), NaN or Infinity, and numbers in
exponent form.

Usage: strict_json.py recordio|json < input
  recordio: a RecordIO stream ("<length>\\n<bytes>" records), as the v1 APIs
            stream events;
  json:     one JSON document.
Prints the number of documents decoded; exits 1 naming the first problem.
"""
import json
import sys


def no_null_pairs(pairs):
    for key, value in pairs:
        if value is None:
            raise ValueError("null at key %r" % key)
    return dict(pairs)


def plain_float(text):
    if "e" in text or "E" in text:
        raise ValueError("number in exponent form: %s" % text)
    return float(text)


def no_constant(text):
    raise ValueError("non-finite number: %s" % text)


def no_null_in_arrays(value, path="$"):
    if isinstance(value, list):
        for i, item in enumerate(value):
            if item is None:
                raise ValueError("null at %s[%d]" % (path, i))
            no_null_in_arrays(item, "%s[%d]" % (path, i))
    elif isinstance(value, dict):
        for key, item in value.items():
            no_null_in_arrays(item, "%s.%s" % (path, key))


def records(data):
    i = 0
    while i < len(data):
        j = data.index(b"\n", i)
        n = int(data[i:j])
        yield data[j + 1:j + 1 + n]
        i = j + 1 + n


def main():
    data = sys.stdin.buffer.read()
    docs = list(records(data)) if sys.argv[1] == "recordio" else [data]
    for n, doc in enumerate(docs):
        try:
            value = json.loads(doc, object_pairs_hook=no_null_pairs,
                               parse_float=plain_float, parse_constant=no_constant)
            no_null_in_arrays(value)
        except ValueError as e:
            sys.stderr.write("document %d: %s\n%s\n" % (n, e, doc.decode("utf-8", "replace")[:2000]))
            return 1
    print(len(docs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
